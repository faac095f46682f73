"""The data plane: the products' endpoints, assembled into one lean Starlette application.

``/accelerate/v1/…`` is the Accelerate gateway, ``/pulse/v1/…`` Pulse's stream endpoint.
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
from accelerate.gateway.service import build_gateway, housekeeping, shutdown
from pulse.stream import service as pulse_stream
from pulse.stream.app import build_app as pulse_app

# The paths config/asgi.py sends here rather than to Django.
PREFIXES = ("/accelerate/v1/", "/pulse/v1/")


def create_dataplane() -> Starlette:
    gateway, directory = build_gateway()
    streams = pulse_stream.build_stream_service()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.ensure_future(housekeeping(gateway, directory))
        pulse_task = await pulse_stream.start(streams)
        yield
        await pulse_stream.stop(streams, pulse_task)
        await shutdown(gateway, task)

    app = Starlette(
        routes=[
            Mount("/accelerate/v1", app=accelerate_app(gateway)),
            Mount("/pulse/v1", app=pulse_app(streams)),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.pulse = streams
    return app
