"""A Python client for Pulse streams, standard library only (copy this file into your application).

    import os
    from pulse.client import stream

    # A named stream resumes after the last event it acknowledged: at least once.
    for event in stream("orders", name="orders-worker",
                        url="http://127.0.0.1:8000/pulse/v1/stream", api_key=os.environ["PRISMA_API_KEY"]):
        if event.action == "create":
            print("new order", event.created)
        elif event.action == "update":
            print("changed", event.before, "->", event.after)
        elif event.action == "delete":
            print("gone", event.deleted)

    # Without a name: only what happens from now on, while connected.
    for event in stream("orders", actions=["create"], url=..., api_key=...):
        ...

An event counts as processed when the loop asks for the next one; the client then
acknowledges it (at most every ``ack_interval`` seconds, and when the stream is closed), so
a restarted program resumes after the last event it finished. A dropped connection is
re-opened with ``Last-Event-ID``: nothing is skipped. Errors the server answers before
streaming (a bad key, Pulse not enabled, an unknown table) raise ``PulseStreamError``. A stream
the server ends because its key was deleted or expired, or Pulse was disabled for the project,
raises ``PulseStreamEnded`` (a ``PulseStreamError``): never retried, unlike a dropped connection.

``url`` defaults to ``$PULSE_STREAM_URL``, ``api_key`` to ``$PRISMA_API_KEY`` (the project API key,
as the console's examples name it; ``$PULSE_API_KEY`` is still read when that is unset).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import time
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

RETRYABLE_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
# The HTTP status a new request would get, for the codes an ``end`` event carries.
END_STATUSES = {"P6002": 401, "P6010": 403}
# How long a first connection waits for a named stream's previous reader to be noticed gone.
CONFLICT_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Event:
    """One change, as DESIGN.md section 8 describes it."""

    id: int
    model_name: str
    action: str  # "create" | "update" | "delete" | "truncate"
    lsn: str
    committed_at: dt.datetime
    created: dict[str, Any] | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    deleted: dict[str, Any] | None = None
    # Columns whose value an update did not change and the WAL did not carry (TOAST).
    unchanged: tuple[str, ...] = field(default=())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Event:
        return cls(
            id=int(data["id"]),
            model_name=data["modelName"],
            action=data["action"],
            lsn=data["lsn"],
            committed_at=dt.datetime.fromisoformat(data["committedAt"].replace("Z", "+00:00")),
            created=data.get("created"),
            before=data.get("before"),
            after=data.get("after"),
            deleted=data.get("deleted"),
            unchanged=tuple(data.get("unchanged", ())),
        )


class PulseStreamError(Exception):
    """The server refused the stream: ``status`` (HTTP), ``code`` (P6xxx), ``message``."""

    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}


class PulseStreamEnded(PulseStreamError):
    """The server ended an open stream for good (its ``end`` event): the key was deleted or expired
    (P6002) or Pulse was disabled for the project (P6010). Reconnecting would be refused the same
    way, so the client does not; a network error, by contrast, is retried with Last-Event-ID."""


class PulseStream:
    """An open stream: iterate it for events; ``close()`` (or ``with``) acknowledges and ends it."""

    def __init__(
        self,
        model: str,
        *,
        url: str,
        api_key: str,
        name: str | None = None,
        actions: Iterable[str] | None = None,
        last_event_id: int | None = None,
        ack_interval: float = 1.0,
        read_timeout: float = 60.0,
        max_retry_delay: float = 10.0,
    ) -> None:
        self.url = urlsplit(url)
        if self.url.scheme not in ("http", "https"):
            raise ValueError("url must be the http(s):// address of /pulse/v1/stream")
        self.api_key = api_key
        self.model = model
        self.name = name
        self.actions = ",".join(actions) if actions else None
        self.last_event_id = last_event_id  # the last event handed to the caller
        self.ack_interval = ack_interval
        self.read_timeout = read_timeout
        self.max_retry_delay = max_retry_delay
        self.acknowledged: int | None = None
        self._processed: int | None = None
        self._acked_at = time.monotonic()
        self._connection: http.client.HTTPConnection | None = None
        self._ack_connection: http.client.HTTPConnection | None = None
        self._closed = False
        self.ended: PulseStreamEnded | None = None  # why the server ended the stream, if it did
        self._events = self._run()

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def __enter__(self) -> PulseStream:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        # Leaving by an exception: the event being handled was not processed.
        self.close(last_processed=kind is None)

    def close(self, *, last_processed: bool = True) -> None:
        """Acknowledge what was processed (with ``last_processed``, the last event received too:
        the loop that broke out had handled it) and close the connection."""
        if self._closed:
            return
        self._closed = True
        self._events.close()
        if last_processed and self.last_event_id is not None:
            self._processed = self.last_event_id
        if self.ended is None:  # an ended stream's key (or Pulse) is gone: an ack would be refused
            self.acknowledge()
        for connection in (self._connection, self._ack_connection):
            if connection is not None:
                connection.close()

    def acknowledge(self, event_id: int | None = None) -> None:
        """Acknowledge the named stream up to ``event_id`` (default: the last event processed)."""
        event_id = self._processed if event_id is None else event_id
        if self.name is None or event_id is None or event_id == self.acknowledged:
            return
        path = self.url.path.rsplit("/", 1)[0] + f"/streams/{quote(self.name, safe='')}/ack"
        body = json.dumps({"id": event_id})
        for attempt in range(2):
            if self._ack_connection is None:
                self._ack_connection = self._connect(timeout=10)
            try:
                self._ack_connection.request(
                    "POST", path, body=body, headers={**self._headers(), "Content-Type": "application/json"}
                )
                response = self._ack_connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self._ack_connection.close()
                self._ack_connection = None
                if attempt:
                    return  # acknowledged later, or the events come again: at least once
                continue
            if response.status != 200:
                raise _error(response.status, payload)
            self.acknowledged = event_id
            self._acked_at = time.monotonic()
            return

    # Internals -----------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _connect(self, *, timeout: float) -> http.client.HTTPConnection:
        host, port = self.url.hostname or "localhost", self.url.port
        if self.url.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _open(self) -> http.client.HTTPResponse:
        query = {"model": self.model}
        if self.name is not None:
            query["name"] = self.name
        if self.actions:
            query["actions"] = self.actions
        headers = {**self._headers(), "Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self._connection = self._connect(timeout=self.read_timeout)
        self._connection.request("GET", f"{self.url.path}?{urlencode(query)}", headers=headers)
        response = self._connection.getresponse()
        if response.status != 200:
            raise _error(response.status, response.read())
        return response

    def _run(self) -> Generator[Event, None, None]:
        delay = 0.5
        opened = False
        started = time.monotonic()
        while not self._closed:
            try:
                response = self._open()
                opened, delay = True, 0.5
                for event in _parse(response):
                    if self._processed is not None and time.monotonic() - self._acked_at >= self.ack_interval:
                        self.acknowledge()
                    if event is None:
                        continue  # a heartbeat
                    self.last_event_id = event.id
                    yield event
                    self._processed = event.id
            except PulseStreamEnded as error:
                self.ended = error
                raise
            except PulseStreamError as error:
                # A named stream's previous connection may not have been noticed gone yet (409):
                # wait for it a little even on the first open, then give up with the error.
                conflict_pending = error.status == 409 and time.monotonic() - started < CONFLICT_WAIT_SECONDS
                if error.status not in RETRYABLE_STATUSES or not (opened or conflict_pending):
                    raise
            except (OSError, http.client.HTTPException):
                pass  # reconnect below, resuming after the last event received
            finally:
                if self._connection is not None:
                    self._connection.close()
            time.sleep(delay)
            delay = min(delay * 2, self.max_retry_delay)


def _parse(response: http.client.HTTPResponse) -> Iterator[Event | None]:
    """Server-Sent Events: yields an Event per ``data:`` block, None per comment (heartbeat);
    raises PulseStreamEnded for the server's ``end`` event."""
    data: list[str] = []
    name = ""
    while True:
        raw = response.readline()
        if not raw:
            return  # the connection ended without an ``end`` event: a network error, reconnect
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data and name == "end":
                raise _ended(json.loads("\n".join(data)))
            if data:
                yield Event.from_json(json.loads("\n".join(data)))
            data, name = [], ""
            continue
        if line.startswith(":"):
            yield None
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def _ended(payload: Any) -> PulseStreamEnded:
    error = payload.get("error", {}) if isinstance(payload, dict) else {}
    code = str(error.get("code", "P6000"))
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    message = str(error.get("message", "The server ended the stream."))
    return PulseStreamEnded(END_STATUSES.get(code, 500), code, message, details)


def _error(status: int, body: bytes) -> PulseStreamError:
    try:
        error = json.loads(body)["error"]
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
        return PulseStreamError(status, error["code"], error["message"], details)
    except (ValueError, KeyError, TypeError):
        return PulseStreamError(status, "P6000", f"HTTP {status}: {body[:200]!r}")


def stream(
    model: str,
    name: str | None = None,
    actions: Iterable[str] | None = None,
    *,
    url: str | None = None,
    api_key: str | None = None,
    last_event_id: int | None = None,
    ack_interval: float = 1.0,
    read_timeout: float = 60.0,
) -> PulseStream:
    """Stream the changes of ``model`` (a table; ``schema.table`` outside public) as Events.

    ``name``: resume after the named stream's last acknowledged event (at least once);
    without it, events from now on. ``actions``: only these (create, update, delete,
    truncate). The returned PulseStream is an iterator; close it (or use ``with``) to
    acknowledge the last event processed and disconnect.
    """
    url = url or os.environ.get("PULSE_STREAM_URL", "")
    api_key = api_key or os.environ.get("PRISMA_API_KEY", "") or os.environ.get("PULSE_API_KEY", "")
    if not url or not api_key:
        raise ValueError("Give url= and api_key= (or set PULSE_STREAM_URL and PRISMA_API_KEY).")
    return PulseStream(
        model,
        url=url,
        api_key=api_key,
        name=name,
        actions=actions,
        last_event_id=last_event_id,
        ack_interval=ack_interval,
        read_timeout=read_timeout,
    )
