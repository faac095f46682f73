"""The Pulse stream endpoint: ``GET /pulse/v1/stream`` (Server-Sent Events) and the ack endpoint.

Protocol: DESIGN.md section 8 and docs/pulse.md. Part of the lean data plane (no Django
request cycle); API keys are checked by the projects app's key service, what a project's
Pulse configuration says is kept per process for ``GATEWAY_CONFIG_TTL`` (1 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dataplane.bodies import parse_json_or_none, read_body
from dataplane.errors import DataPlaneError, error_response, request_id_of
from dataplane.keys import INVALID_KEY, api_key_of
from dataplane.limits import TokenBuckets
from dataplane.middleware import RequestContext
from projects.services import aapi_key_authenticate
from pulse import services
from pulse.selectors import StreamTarget, pulse_stream_target
from pulse.stream.hub import Hub, Subscriber
from usage.metering import Meter

log = logging.getLogger("pulse.stream")

ACTIONS = ("create", "update", "delete", "truncate")
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
MODEL = re.compile(r"[^\s\x00]{1,127}")
MAX_BODY_BYTES = 4096
CANCEL_GRACE_SECONDS = 5.0  # how long an ending stream waits for its tasks to stop


class TargetDirectory:
    """Project id → StreamTarget, trusted for ``ttl`` seconds (disabling reaches every process)."""

    def __init__(self, *, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = settings.GATEWAY_CONFIG_TTL if ttl is None else ttl
        self.clock = clock
        self._entries: dict[uuid.UUID, tuple[float, StreamTarget | None]] = {}

    async def resolve(self, raw_key: str) -> StreamTarget:
        api_key = await aapi_key_authenticate(raw_key)
        if api_key is None:
            raise DataPlaneError("P6002", INVALID_KEY)
        project_id = api_key.project.pk
        entry = self._entries.get(project_id)
        if entry is None or self.clock() - entry[0] >= self.ttl:
            entry = (self.clock(), await sync_to_async(pulse_stream_target)(project_id=project_id))
            self._entries[project_id] = entry
        if entry[1] is None:
            raise DataPlaneError("P6010", "Pulse is not enabled for this project: enable it in the console.")
        return entry[1]


class StreamService:
    """Everything one process's stream endpoint shares: the hub, the directory, the meter."""

    def __init__(
        self,
        *,
        hub: Hub,
        directory: TargetDirectory,
        meter: Meter,
        heartbeat: float | None = None,
        limiter: TokenBuckets | None = None,
        connections_per_key: int | None = None,
    ):
        self.hub = hub
        self.directory = directory
        self.meter = meter
        self.heartbeat = settings.PULSE_HEARTBEAT_SECONDS if heartbeat is None else heartbeat
        self.limiter = limiter
        self.connections_per_key = connections_per_key
        self._open: dict[bytes, int] = {}  # BLAKE2 digest of an API key -> its open streams here

    def admit(self, raw_key: str) -> None:
        """Take one of the key's tokens (connecting and acknowledging both cost one): P6003 when
        there is none. Checked before the key is looked up, so a flood costs no database work."""
        if self.limiter is not None and (wait := self.limiter.take(raw_key)):
            raise DataPlaneError(
                "P6003",
                f"This API key is over its limit of {self.limiter.rate:g} requests a second: "
                "retry after the number of seconds in Retry-After.",
                retry_after=max(1, math.ceil(wait)),
            )

    def admit_connection(self, raw_key: str) -> bytes:
        """The key's identity for ``connection_opened``, if it may open one more stream (P6003 if not)."""
        ident = hashlib.blake2b(raw_key.encode(errors="surrogatepass"), digest_size=16).digest()
        if self.connections_per_key is not None and self._open.get(ident, 0) >= self.connections_per_key:
            raise DataPlaneError(
                "P6003",
                f"This API key already has {self.connections_per_key} streams open on this server: "
                "close one, or retry after the number of seconds in Retry-After.",
                retry_after=max(1, math.ceil(self.heartbeat)),
            )
        return ident

    @property
    def open_connections(self) -> int:
        return sum(self._open.values())

    def connection_opened(self, ident: bytes) -> None:
        self._open[ident] = self._open.get(ident, 0) + 1

    def connection_closed(self, ident: bytes) -> None:
        count = self._open.get(ident, 0) - 1
        if count > 0:
            self._open[ident] = count
        else:
            self._open.pop(ident, None)

    @property
    def lease_seconds(self) -> float:
        return max(3 * self.heartbeat, 5.0)


def parse_actions(text: str | None) -> frozenset[str]:
    if text is None or not text.strip():
        return frozenset()
    actions = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(actions - set(ACTIONS))
    if unknown:
        raise DataPlaneError(
            "P6005", f"Unknown action(s): {', '.join(unknown)}. Use any of: {', '.join(ACTIONS)}."
        )
    return actions


def parse_model(text: str | None, target: StreamTarget) -> str:
    if not text:
        raise DataPlaneError(
            "P6005",
            "`model` is required: the table to stream (schema.table outside public).",
            **_models(target),
        )
    model = text.removeprefix("public.")
    if not MODEL.fullmatch(model) or (target.models is not None and model not in target.models):
        raise DataPlaneError("P6005", f"Pulse does not capture a table named {text!r}.", **_models(target))
    return model


def _models(target: StreamTarget) -> dict[str, Any]:
    return {"models": list(target.models)} if target.models is not None else {}


def parse_event_id(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise DataPlaneError("P6005", f"{what} must be an event id (a whole number).")
    return int(text)


def lease_key(project_id: uuid.UUID, name: str) -> str:
    """The shared-cache key whose holder reads the project's named stream."""
    return f"pulse:stream-lease:{project_id}:{name}"


async def open_stream(
    service: StreamService, request: Request
) -> tuple[Subscriber, str | None, StreamTarget, bytes]:
    """Check everything and subscribe; DataPlaneError before anything is streamed."""
    raw_key = api_key_of(request)
    service.admit(raw_key)
    ident = service.admit_connection(raw_key)
    target = await service.directory.resolve(raw_key)
    model = parse_model(request.query_params.get("model"), target)
    actions = parse_actions(request.query_params.get("actions"))
    name = request.query_params.get("name")
    if name is not None and not NAME.fullmatch(name):
        raise DataPlaneError("P6005", "`name` must be 1 to 100 letters, digits, '.', '_' or '-'.")
    last_event_id = request.headers.get("last-event-id", "").strip()
    after = parse_event_id(last_event_id, "The Last-Event-ID header") if last_event_id else None
    lease = None
    if name is not None:
        lease = secrets.token_hex(8)
        if not await cache.aadd(lease_key(target.project_id, name), lease, timeout=service.lease_seconds):
            raise DataPlaneError(
                "P6011",
                f"The stream {name!r} is already open on another connection: a named stream is read by one "
                "connection at a time.",
            )
        try:
            if after is None:
                present = await service.hub.latest_id(str(target.project_id))
                after = await sync_to_async(services.pulse_stream_open)(
                    project_id=target.project_id, name=name, present=present
                )
        except BaseException:
            await release_lease(target, name, lease)
            raise
    try:
        subscriber = await service.hub.subscribe(
            project_id=str(target.project_id), model_name=model, actions=actions, after=after
        )
    except BaseException:
        if name is not None and lease is not None:
            await release_lease(target, name, lease)
        raise
    # Counted from here until EventStream ends (nothing is awaited in between).
    service.connection_opened(ident)
    return subscriber, lease, target, ident


async def release_lease(target: StreamTarget, name: str, lease: str) -> None:
    key = lease_key(target.project_id, name)
    if await cache.aget(key) == lease:
        await cache.adelete(key)


async def renew_lease(service: StreamService, target: StreamTarget, name: str, lease: str) -> bool:
    key = lease_key(target.project_id, name)
    if await cache.aget(key) != lease:
        return False
    await cache.aset(key, lease, timeout=service.lease_seconds)
    return True


class EventStream(Response):
    """The Server-Sent Events answer. It watches for the client leaving while idle, so a named
    stream's lease is released at once (not at the next heartbeat)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        service: StreamService,
        subscriber: Subscriber,
        target: StreamTarget,
        name: str | None,
        lease: str | None,
        ident: bytes,
    ) -> None:
        self.service = service
        self.ident = ident
        self.subscriber = subscriber
        self.target = target
        self.name = name
        self.lease = lease
        self.status_code = 200
        self.background = None
        self.ended = False
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self._stream(send))
        watching = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({streaming, watching}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The server ends open streams this way when it stops (--timeout-graceful-shutdown):
            # a normal end for a stream, finished below like any other, not an application error.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        finally:
            # Whatever ended it (the client left, the stream failed, shutdown): nothing more is
            # sent or renewed, the counters are right, and the name is free again.
            self.ended = True
            client_left = watching.done() and not watching.cancelled()
            for task in (streaming, watching):
                task.cancel()
            self.service.hub.unsubscribe(self.subscriber)
            self.service.connection_closed(self.ident)
            done, running = await asyncio.wait({streaming, watching}, timeout=CANCEL_GRACE_SECONDS)
            if streaming in done and not streaming.cancelled():
                failure = streaming.exception()
                if failure is not None and not isinstance(failure, OSError):
                    log.error("stream ended by an error", exc_info=failure)
            if running:
                log.error("a stream did not stop within %gs of being cancelled", CANCEL_GRACE_SECONDS)
            if not client_left:
                # We end the stream (shutdown, an error, or the name was taken over): say so.
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
            if self.name is not None and self.lease is not None:
                with contextlib.suppress(Exception):
                    await release_lease(self.target, self.name, self.lease)

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
        renewed = time.monotonic()
        project_id = self.target.project_id
        organization_id = self.target.organization_id
        async for frames in self._frames():
            if frames:
                self.service.meter.add(
                    organization_id=organization_id, project_id=project_id, events_delivered=len(frames)
                )
                await send({"type": "http.response.body", "body": b"".join(frames), "more_body": True})
            else:
                await send({"type": "http.response.body", "body": b": heartbeat\n\n", "more_body": True})
            if self.ended:
                return
            if (
                self.name is not None
                and self.lease is not None
                and time.monotonic() - renewed >= self.service.heartbeat
            ):
                if not await renew_lease(self.service, self.target, self.name, self.lease):
                    return  # the lease expired and someone else holds the name now
                renewed = time.monotonic()

    async def _frames(self) -> AsyncIterator[list[bytes]]:
        while True:
            yield await self.service.hub.next_frames(self.subscriber, self.service.heartbeat)


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def read_ack(request: Request) -> int:
    payload = parse_json_or_none(await read_body(request, limit=MAX_BODY_BYTES))
    event_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(event_id, str) and event_id.isdigit():
        event_id = int(event_id)
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 0 <= event_id < 2**63:
        raise DataPlaneError("P6005", 'The body must be {"id": N}: the id of the last event processed.')
    return event_id


def build_app(service: StreamService) -> ASGIApp:
    """The SSE protocol (docs/pulse.md), mounted at ``/pulse/v1`` by config/dataplane.py."""

    async def stream(request: Request) -> Response:
        subscriber, lease, target, ident = await open_stream(service, request)
        request.state.log["project"] = target.project_id
        return EventStream(service, subscriber, target, request.query_params.get("name"), lease, ident)

    async def acknowledge(request: Request) -> Response:
        raw_key = api_key_of(request)
        service.admit(raw_key)
        target = await service.directory.resolve(raw_key)
        request.state.log["project"] = target.project_id
        name = request.path_params["name"]
        if not NAME.fullmatch(name):
            raise DataPlaneError(
                "P6005", "The stream name must be 1 to 100 letters, digits, '.', '_' or '-'."
            )
        event_id = await read_ack(request)
        stream = await sync_to_async(services.pulse_stream_acknowledge)(
            project_id=target.project_id, name=name, event_id=event_id
        )
        body = {"name": name, "acknowledged": stream.acknowledged_id, "requestId": request_id_of(request)}
        return Response(json.dumps(body), media_type="application/json")

    app = Starlette(
        routes=[
            Route("/stream", stream, methods=["GET"]),
            Route("/streams/{name}/ack", acknowledge, methods=["POST"]),
        ],
        exception_handlers={DataPlaneError: error_response, Exception: error_response},
    )
    return RequestContext(app, logger="pulse.stream")
