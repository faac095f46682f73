"""Building the gateway from settings, and its housekeeping while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from accelerate.gateway.app import Gateway
from accelerate.gateway.cache import DegradingQueryCache, LocalQueryCache, QueryCache, RedisQueryCache
from accelerate.gateway.executors import Executors
from accelerate.gateway.prisma import PrismaGateway
from accelerate.gateway.sidecar import SidecarClient
from accelerate.gateway.targets import TargetDirectory
from dataplane.limits import TokenBuckets
from usage.metering import Meter

log = logging.getLogger("accelerate.gateway")

FLUSH_SECONDS = 2.0
POOL_SWEEP_SECONDS = 5.0


def build_gateway() -> tuple[Gateway, TargetDirectory]:
    """The gateway this process runs (Redis cache when CACHE_URL is Redis, else in-process) and
    the directory it resolves keys with."""
    cache: QueryCache = (
        DegradingQueryCache(RedisQueryCache(settings.REDIS_URL))
        if settings.REDIS_URL
        else LocalQueryCache(max_entries=settings.GATEWAY_CACHE_MAX_ENTRIES)
    )
    directory = TargetDirectory()
    gateway = Gateway(
        resolver=directory.resolve,
        cache=cache,
        region=settings.GATEWAY_REGION,
        meter=Meter("accelerate"),
        limiter=TokenBuckets(
            rate=settings.GATEWAY_RATE_LIMIT_PER_SECOND, burst=settings.GATEWAY_RATE_LIMIT_BURST
        ),
    )
    return gateway, directory


def build_prisma_gateway(gateway: Gateway) -> PrismaGateway:
    """The Prisma routes' side of the same gateway, forwarding to the executor sidecar's socket."""
    return PrismaGateway(
        gateway,
        Executors(SidecarClient(settings.ACCELERATE_EXECUTOR_SOCKET)),
        node=settings.GATEWAY_NODE,
        region=settings.GATEWAY_REGION,
        max_body_bytes=settings.GATEWAY_MAX_PLAN_BYTES,
    )


async def housekeeping(
    gateway: Gateway, directory: TargetDirectory, executors: Executors | None = None
) -> None:
    """Flush usage every couple of seconds; close the pools (and the sidecar's executors) of
    projects that can no longer be served."""
    since_sweep = 0.0
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await sync_to_async(gateway.meter.flush)()
        except Exception:
            log.exception("could not write Accelerate usage; it is kept for the next flush")
        since_sweep += FLUSH_SECONDS
        if since_sweep >= POOL_SWEEP_SECONDS:
            since_sweep = 0.0
            try:
                for project_id in await directory.unusable(list(gateway.pools)):
                    await gateway.drop_pool(project_id)
                if executors is not None:
                    for project_id in await directory.unusable(executors.projects()):
                        await executors.retire(project_id)
            except Exception:
                log.exception("could not check the gateway's pools")


async def shutdown(gateway: Gateway, task: asyncio.Task[None], executors: Executors | None = None) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await gateway.close()
    if executors is not None:
        # Not closed on the sidecar: other gateway processes on this machine share them.
        await executors.aclose()
    with contextlib.suppress(Exception):
        await sync_to_async(gateway.meter.flush)()
