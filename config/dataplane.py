"""The data plane: the products' endpoints, assembled into one lean Starlette application.

``/accelerate/v1/…`` is the Accelerate gateway's raw-SQL protocol, ``/pulse/v1/…`` Pulse's stream
endpoint, and Prisma Client's routes (``/connection-info``, ``/query``, ``/transaction/…``,
``/invalidate``) sit at the host root, where ``prisma://HOST`` connection strings send them.
They skip Django's request cycle (DESIGN.md section 2) but share its settings, models and
services. Each product builds its own application (routes, exception handlers, the request
id and access log of ``dataplane.middleware``); this module mounts them and runs their
background work in the lifespan. Part of the composition root: it may import the products.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount

from accelerate.gateway.app import build_app as accelerate_app
from accelerate.gateway.prisma import build_prisma_app
from accelerate.gateway.service import build_gateway, build_prisma_gateway, housekeeping, shutdown
from pulse.stream import service as pulse_stream
from pulse.stream.app import build_app as pulse_app

# The paths config/asgi.py sends here rather than to Django: the products' prefixes, and Prisma
# Client's routes at the root — exactly these three paths and /transaction/…, none of which is
# the console's (tests/config/test_asgi.py checks that no console URL is shadowed).
PREFIXES = ("/accelerate/v1/", "/pulse/v1/", "/transaction/")
PRISMA_PATHS = frozenset({"/connection-info", "/query", "/invalidate"})


def serves(path: str) -> bool:
    """Whether a request path belongs to the data plane (else it is the console's)."""
    return path in PRISMA_PATHS or path.startswith(PREFIXES)


def create_dataplane() -> Starlette:
    gateway, directory = build_gateway()
    prisma = build_prisma_gateway(gateway)
    streams = pulse_stream.build_stream_service()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.ensure_future(housekeeping(gateway, directory, prisma.executors))
        pulse_task = await pulse_stream.start(streams)
        yield
        await pulse_stream.stop(streams, pulse_task)
        await shutdown(gateway, task, prisma.executors)

    app = Starlette(
        routes=[
            Mount("/accelerate/v1", app=accelerate_app(gateway)),
            Mount("/pulse/v1", app=pulse_app(streams)),
            Mount("", app=build_prisma_app(prisma)),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.prisma = prisma
    app.state.pulse = streams
    return app
