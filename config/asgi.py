"""The one ASGI entry point: the data plane beside Django.

``/accelerate/v1/``, ``/pulse/v1/`` and Prisma Client's routes at the root (``/query``,
``/transaction/…``, …: ``config.dataplane.serves``) go to the lean Starlette application
(``config/dataplane.py``); everything else is the Django console. Lifespan events
(start-up, shutdown) go to the data plane, which has background work to start and stop;
Django's handler has none and does not accept them.
"""

from __future__ import annotations

import os
from typing import Any

import django
from django.core.asgi import get_asgi_application

from devtools import bootstrap  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
bootstrap.prepare()  # the embedded mode's database and secrets, when DATABASE_URL is unset
django.setup()
console_app = get_asgi_application()

from config.dataplane import create_dataplane, serves  # noqa: E402  (needs Django set up)

dataplane = create_dataplane()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan" or serves(scope.get("path", "")):
        await dataplane(scope, receive, send)
    else:
        await console_app(scope, receive, send)
