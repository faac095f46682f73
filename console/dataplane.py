"""The data plane: one lean Starlette application for the products' endpoints.

``/accelerate/v1/…`` is the Accelerate gateway, ``/pulse/v1/…`` Pulse's stream endpoint.
They skip Django's request cycle (DESIGN.md section 2) but share its settings, models and
services. Like ``urls.py``, this module
is part of the composition root: it may import the products; the core never does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount

from accelerate.gateway.app import build_routes as accelerate_routes
from accelerate.gateway.service import build_gateway, housekeeping, shutdown
from pulse.stream import service as pulse_stream
from pulse.stream.app import build_routes as pulse_routes


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
            Mount("/accelerate/v1", routes=accelerate_routes(gateway)),
            Mount("/pulse/v1", routes=pulse_routes(streams)),
        ],
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.pulse = streams
    return app
