"""The Pulse stream endpoint: ``GET /pulse/v1/stream`` (Server-Sent Events) and the ack endpoint.

Protocol: DESIGN.md section 8 and docs/pulse.md. Part of the lean data plane (no Django
request cycle); API keys are checked by the projects app's key service, what a project's
Pulse configuration says is kept per process for ``GATEWAY_CONFIG_TTL`` (1 s).

``StreamService`` is what every transport shares: admission (rates, open streams per key), the
hub, and the open streams themselves (``OpenStream``), which it re-checks every half second
and ends when their key stops authenticating or their project's Pulse is disabled
(``end_revoked``). A transport (``EventStream`` here) registers its stream with
``stream_opened``/``stream_closed``, reads ``Hub.next_frames`` and, on ``StreamEnded``, tells
its client why in its own terms (an ``end`` event for SSE) and closes.
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
from dataclasses import dataclass
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
from projects.key_cache import REVOCATION_CHECK_SECONDS
from projects.models import ApiKey
from projects.selectors import api_keys_still_valid
from projects.services import aapi_key_authenticate
from pulse import services
from pulse.selectors import StreamTarget, pulse_enabled_projects, pulse_stream_target
from pulse.stream.hub import Hub, StreamEnded, Subscriber
from usage.metering import Meter

log = logging.getLogger("pulse.stream")

ACTIONS = ("create", "update", "delete", "truncate")
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
MODEL = re.compile(r"[^\s\x00]{1,127}")
MAX_BODY_BYTES = 4096
CANCEL_GRACE_SECONDS = 5.0  # how long an ending stream waits for its tasks to stop
# Open streams are re-checked as often as a key cache re-reads the revocation counter, so they
# end within the same second that revocation promises new requests (docs/security.md).
ACCESS_CHECK_SECONDS = REVOCATION_CHECK_SECONDS
KEY_REVOKED = "The API key was deleted or has expired: this stream has ended."
PULSE_DISABLED = "Pulse was disabled for this project: this stream has ended."


class TargetDirectory:
    """Project id → StreamTarget, trusted for ``ttl`` seconds (disabling reaches every process)."""

    def __init__(self, *, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = settings.GATEWAY_CONFIG_TTL if ttl is None else ttl
        self.clock = clock
        self._entries: dict[uuid.UUID, tuple[float, StreamTarget | None]] = {}

    async def resolve(self, raw_key: str) -> StreamTarget:
        return (await self.resolve_key(raw_key))[1]

    async def resolve_key(self, raw_key: str) -> tuple[ApiKey, StreamTarget]:
        """The key and its project's stream settings; P6002 for a key that does not authenticate,
        P6010 when the project's Pulse is not enabled."""
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
        return api_key, entry[1]


@dataclass(eq=False)
class OpenStream:
    """One open stream, whatever transport carries it: what the service counts it by, and what it
    re-checks to end it (the key it was opened with, the project it reads)."""

    subscriber: Subscriber
    target: StreamTarget
    api_key_id: int
    ident: bytes  # BLAKE2 digest of the key: the per-key count of open streams
    name: str | None = None
    lease: str | None = None  # held while a named stream is open (release_lease)
    request_id: str = "-"


class StreamService:
    """Everything one process's stream endpoint shares, whatever the transport: the hub, the
    directory, the meter, admission, and the open streams (ended when their access goes)."""

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
        self.streams: set[OpenStream] = set()

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
        """The key's identity for ``OpenStream.ident``, if it may open one more stream (P6003 if not)."""
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

    def stream_opened(self, stream: OpenStream) -> None:
        """Count the stream against its key and watch its access (until ``stream_closed``)."""
        self._open[stream.ident] = self._open.get(stream.ident, 0) + 1
        self.streams.add(stream)

    def stream_closed(self, stream: OpenStream) -> None:
        """The stream ended, for whatever reason: it leaves the hub and the counts (idempotent)."""
        self.hub.unsubscribe(stream.subscriber)
        if stream not in self.streams:
            return
        self.streams.discard(stream)
        count = self._open.get(stream.ident, 0) - 1
        if count > 0:
            self._open[stream.ident] = count
        else:
            self._open.pop(stream.ident, None)

    async def end_revoked(self) -> int:
        """End every open stream whose key no longer authenticates (deleted, expired, its project
        deleted) with P6002, or whose project's Pulse is disabled with P6010; how many ended.

        Two indexed queries however many streams are open, none when none is; the transports
        are told through ``StreamEnded`` (``Subscriber.end``)."""
        streams = [stream for stream in self.streams if stream.subscriber.ended is None]
        if not streams:
            return 0
        key_ids = {stream.api_key_id for stream in streams}
        project_ids = {stream.target.project_id for stream in streams}
        valid_keys = await sync_to_async(api_keys_still_valid)(api_key_ids=key_ids)
        enabled = await sync_to_async(pulse_enabled_projects)(project_ids=project_ids)
        ended = 0
        for stream in streams:
            if stream.api_key_id not in valid_keys:
                stream.subscriber.end(DataPlaneError("P6002", KEY_REVOKED))
            elif stream.target.project_id not in enabled:
                stream.subscriber.end(DataPlaneError("P6010", PULSE_DISABLED))
            else:
                continue
            ended += 1
        return ended

    async def watch_access(self) -> None:
        """``end_revoked`` every ``ACCESS_CHECK_SECONDS`` while the process runs."""
        while True:
            await asyncio.sleep(ACCESS_CHECK_SECONDS)
            try:
                if ended := await self.end_revoked():
                    log.info("ended %d open stream(s): their key or their project's Pulse is gone", ended)
            except Exception:
                log.exception("could not re-check the open streams' keys; retrying")

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


async def check_event_id(service: StreamService, target: StreamTarget, event_id: int, what: str) -> None:
    """P6005 for an id past the project's newest event: resuming or acknowledging there would
    silently skip every event up to it (an id from another project, or from before ids were
    numbered per project)."""
    newest = await service.hub.latest_id(str(target.project_id))
    if event_id > newest:
        raise DataPlaneError(
            "P6005",
            f"{what} {event_id} is not an event of this project: its newest event is {newest}. "
            "Event ids are numbered per project.",
        )


def lease_key(project_id: uuid.UUID, name: str) -> str:
    """The shared-cache key whose holder reads the project's named stream."""
    return f"pulse:stream-lease:{project_id}:{name}"


async def open_stream(service: StreamService, request: Request) -> OpenStream:
    """Check everything and subscribe; DataPlaneError before anything is streamed. The stream is
    registered (``stream_opened``): the caller must ``stream_closed`` it, whatever happens."""
    raw_key = api_key_of(request)
    service.admit(raw_key)
    ident = service.admit_connection(raw_key)
    api_key, target = await service.directory.resolve_key(raw_key)
    model = parse_model(request.query_params.get("model"), target)
    actions = parse_actions(request.query_params.get("actions"))
    name = request.query_params.get("name")
    if name is not None and not NAME.fullmatch(name):
        raise DataPlaneError("P6005", "`name` must be 1 to 100 letters, digits, '.', '_' or '-'.")
    last_event_id = request.headers.get("last-event-id", "").strip()
    after = parse_event_id(last_event_id, "The Last-Event-ID header") if last_event_id else None
    if after is not None:
        await check_event_id(service, target, after, "Last-Event-ID")
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
    stream = OpenStream(
        subscriber=subscriber,
        target=target,
        api_key_id=api_key.pk,
        ident=ident,
        name=name,
        lease=lease,
        request_id=request_id_of(request),
    )
    # Counted and watched from here until the transport ends it (nothing is awaited in between).
    service.stream_opened(stream)
    return stream


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


def end_frame(error: DataPlaneError, request_id: str) -> bytes:
    """The last frame of a stream the server ended for its access: an ``end`` event whose data is
    the error a new request would get (docs/pulse.md, "When a stream ends"). No ``id:``, so a
    client's Last-Event-ID stays on the last change it received."""
    data = json.dumps(error.payload(request_id), separators=(",", ":"))
    return f"event: end\ndata: {data}\n\n".encode()


class EventStream(Response):
    """The Server-Sent Events answer. It watches for the client leaving while idle, so a named
    stream's lease is released at once (not at the next heartbeat)."""

    media_type = "text/event-stream"

    def __init__(self, service: StreamService, stream: OpenStream) -> None:
        self.service = service
        self.stream = stream
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
            # Whatever ended it (the client left, the stream failed, its access went, shutdown):
            # nothing more is sent or renewed, the counters are right, and the name is free again.
            self.ended = True
            client_left = watching.done() and not watching.cancelled()
            for task in (streaming, watching):
                task.cancel()
            self.service.stream_closed(self.stream)
            done, running = await asyncio.wait({streaming, watching}, timeout=CANCEL_GRACE_SECONDS)
            if streaming in done and not streaming.cancelled():
                failure = streaming.exception()
                if failure is not None and not isinstance(failure, OSError):
                    log.error("stream ended by an error", exc_info=failure)
            if running:
                log.error("a stream did not stop within %gs of being cancelled", CANCEL_GRACE_SECONDS)
            stream = self.stream
            if stream.name is not None and stream.lease is not None:
                # Before the response ends: a client that reconnects at once finds the name free.
                with contextlib.suppress(Exception):
                    await release_lease(stream.target, stream.name, stream.lease)
            if not client_left:
                # We end the stream (its access went, shutdown, an error, or the name was taken
                # over): say so.
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b": connected\n\n", "more_body": True})
        try:
            await self._deliver(send)
        except StreamEnded as ended:
            reason = ended.reason
            if not isinstance(reason, DataPlaneError):
                reason = DataPlaneError("P6000", "The server ended this stream.")
            body = end_frame(reason, self.stream.request_id)
            await send({"type": "http.response.body", "body": body, "more_body": True})

    async def _deliver(self, send: Send) -> None:
        stream = self.stream
        renewed = time.monotonic()
        project_id = stream.target.project_id
        organization_id = stream.target.organization_id
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
                stream.name is not None
                and stream.lease is not None
                and time.monotonic() - renewed >= self.service.heartbeat
            ):
                if not await renew_lease(self.service, stream.target, stream.name, stream.lease):
                    return  # the lease expired and someone else holds the name now
                renewed = time.monotonic()

    async def _frames(self) -> AsyncIterator[list[bytes]]:
        while True:
            yield await self.service.hub.next_frames(self.stream.subscriber, self.service.heartbeat)


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
        opened = await open_stream(service, request)
        request.state.log["project"] = opened.target.project_id
        return EventStream(service, opened)

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
        await check_event_id(service, target, event_id, "The acknowledged id")
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
