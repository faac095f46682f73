"""The data plane: one lean Starlette application for the products' endpoints.

``/accelerate/v1/…`` is the Accelerate gateway. It skips Django's request cycle (DESIGN.md
section 2) but shares its settings, models and services. Like ``urls.py``, this module
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


def create_dataplane() -> Starlette:
    gateway, directory = build_gateway()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.ensure_future(housekeeping(gateway, directory))
        yield
        await shutdown(gateway, task)

    app = Starlette(routes=[Mount("/accelerate/v1", routes=accelerate_routes(gateway))], lifespan=lifespan)
    app.state.gateway = gateway
    return app
