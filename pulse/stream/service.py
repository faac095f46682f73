"""Building the stream endpoint from settings, and running it inside the data plane's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from asgiref.sync import sync_to_async
from django.conf import settings

from dataplane.limits import TokenBuckets
from pulse.capture.worker import console_connect_kwargs
from pulse.stream.app import StreamService, TargetDirectory
from pulse.stream.hub import Hub
from usage.metering import Meter

log = logging.getLogger("pulse.stream")

FLUSH_SECONDS = 2.0


def build_stream_service() -> StreamService:
    return StreamService(
        hub=Hub(console_connect_kwargs),
        directory=TargetDirectory(),
        meter=Meter("pulse"),
        limiter=TokenBuckets(
            rate=settings.PULSE_STREAM_RATE_LIMIT_PER_SECOND, burst=settings.PULSE_STREAM_RATE_LIMIT_BURST
        ),
        connections_per_key=settings.PULSE_STREAM_CONNECTIONS_PER_KEY,
    )


async def start(service: StreamService) -> asyncio.Task[None]:
    """Open the hub (its LISTEN connection and reader pool), start flushing usage and watching
    the open streams' access (ended within a second of their key or their project's Pulse)."""
    await service.hub.start()
    return asyncio.ensure_future(_background(service))


async def _background(service: StreamService) -> None:
    await asyncio.gather(_flush_usage(service), service.watch_access())


async def _flush_usage(service: StreamService) -> None:
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await sync_to_async(service.meter.flush)()
        except Exception:
            log.exception("could not write Pulse usage; it is kept for the next flush")


async def stop(service: StreamService, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await service.hub.close()
    with contextlib.suppress(Exception):
        await sync_to_async(service.meter.flush)()
