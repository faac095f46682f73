"""Every data-plane request gets an id and exactly one access-log line (pure ASGI middleware).

The id is ``scope["state"]["request_id"]`` (``request.state.request_id`` in an endpoint), sent
back as ``X-Request-Id``. The log line says the path, status, duration and what the endpoint
put in ``request.state.log`` (the project, the cache status, …): never a key, a parameter or
a query string. An exception that escapes the application is logged here with the request
id, after Starlette's server-error handler has answered the client: the server never prints
a traceback of its own for it.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestContext:
    def __init__(self, app: ASGIApp, *, logger: str) -> None:
        self.app = app
        self.log = logging.getLogger(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(8)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        fields: dict[str, Any] = {}
        state["log"] = fields
        status = 0
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status = status or 500
            self.log.exception("request_id=%s failed", request_id)
        finally:
            extra = "".join(f" {name}={value}" for name, value in fields.items())
            self.log.info(
                "request_id=%s method=%s path=%s status=%s%s duration_ms=%.2f",
                request_id,
                scope.get("method", "WS"),
                scope["path"],
                status,
                extra,
                (time.perf_counter() - started) * 1000,
            )
