"""Fan-out of the event log to the open streams of one process.

One ``LISTEN pulse_events`` connection per process. The capture worker sends one NOTIFY
(payload: the project id) per stored batch; for each, the hub runs ONE query for the
project's new events and hands the batch to every subscriber of that project. Nothing
polls per subscriber: an idle stream is a coroutine waiting on an ``asyncio.Event``.

A subscriber that starts behind (a resumed named stream, ``Last-Event-ID``) first reads
its backlog from the table in pages, while the live batches collect in its queue; then it
drains the queue, skipping what the backlog already gave it. Every event is either read by
the backlog (it was committed before the backlog's last, short page) or dispatched after
the subscriber was registered: none is missed, none is sent twice. A subscriber whose
queue grows past ``MAX_PENDING`` events drops the queue and reads from the table again.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from pulse.capture.pgoutput import format_lsn
from pulse.models import PulseConfig, PulseEvent

log = logging.getLogger("pulse.stream")

CHANNEL = "pulse_events"
PAGE = 500
FEED_PAGE = 2000
MAX_PENDING = 10_000
EVENT_TABLE = PulseEvent._meta.db_table
CONFIG_TABLE = PulseConfig._meta.db_table
# An event's id on the wire is its ``seq``: the project's own numbering (PulseEvent).
COLUMNS = "seq, model_name, action, payload::text, lsn, committed_at"


@dataclass(frozen=True, slots=True)
class Event:
    id: int  # PulseEvent.seq
    model_name: str
    action: str
    frame: bytes  # the whole Server-Sent Event


def sse_frame(
    event_id: int, model_name: str, action: str, payload: str, lsn: int, committed_at: dt.datetime
) -> bytes:
    """``id:``/``event:``/``data:`` with the documented JSON (DESIGN.md section 8)."""
    body = payload.strip()[1:-1].strip()
    committed = committed_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    data = (
        f'{{"id":{event_id},"modelName":{json.dumps(model_name)},"action":"{action}",'
        f'{body + "," if body else ""}"lsn":"{format_lsn(lsn)}","committedAt":"{committed}"}}'
    )
    return f"id: {event_id}\nevent: {action}\ndata: {data}\n\n".encode()


def _event(row: tuple[Any, ...]) -> Event:
    event_id, model_name, action, payload, lsn, committed_at = row
    return Event(
        event_id, model_name, action, sse_frame(event_id, model_name, action, payload, lsn, committed_at)
    )


class StreamEnded(Exception):
    """Raised by ``Hub.next_frames`` for a subscriber that was ended (``Subscriber.end``): the
    stream service found its key revoked or its project's Pulse disabled. ``reason`` is the
    error a new request would get; the transport tells its client and closes."""

    def __init__(self, reason: Exception) -> None:
        super().__init__(str(reason))
        self.reason = reason


@dataclass(eq=False)
class Subscriber:
    project_id: str
    model_name: str
    actions: frozenset[str]
    cursor: int  # every event of the project up to here was sent or filtered out
    behind: bool = True  # the backlog is still to be read from the table
    pending: collections.deque[list[Event]] = field(default_factory=collections.deque)
    pending_count: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    overflows: int = 0
    ended: Exception | None = None  # set by end(): no frame is handed out after it

    def end(self, reason: Exception) -> None:
        """End the stream: its next ``next_frames`` raises ``StreamEnded(reason)`` at once."""
        if self.ended is None:
            self.ended = reason
        self.wake.set()

    def push(self, events: list[Event]) -> None:
        self.pending.append(events)
        self.pending_count += len(events)
        if self.pending_count > MAX_PENDING:
            # Too far behind to keep in memory: read it from the table again.
            self.pending.clear()
            self.pending_count = 0
            self.behind = True
            self.overflows += 1
        self.wake.set()

    def wants(self, event: Event) -> bool:
        return event.model_name == self.model_name and (not self.actions or event.action in self.actions)


@dataclass(eq=False)
class Feed:
    """The live events of one project, for the subscribers of this process."""

    subscribers: set[Subscriber] = field(default_factory=set)
    last_id: int | None = None  # every event up to here was dispatched
    fetching: bool = False
    again: bool = False


class Hub:
    def __init__(self, connect_kwargs: Callable[[], dict[str, Any]]) -> None:
        self._connect_kwargs = connect_kwargs
        self.feeds: dict[str, Feed] = {}
        self.pool: AsyncConnectionPool | None = None
        self._listener: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.listening = asyncio.Event()

    async def start(self) -> None:
        kwargs = {**self._connect_kwargs(), "autocommit": True}
        self.pool = AsyncConnectionPool(kwargs=kwargs, min_size=1, max_size=4, open=False)
        await self.pool.open()
        self._listener = asyncio.ensure_future(self._listen(kwargs))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.pool is not None:
            await self.pool.close()

    # Reading the table ----------------------------------------------------------------------------

    async def _rows(self, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
        assert self.pool is not None  # noqa: S101 - start() ran in the lifespan
        async with self.pool.connection() as connection:
            cursor = await connection.execute(query, params)
            return await cursor.fetchall()

    async def latest_id(self, project_id: str) -> int:
        """The id of the project's newest event (0 if none ever was): where its numbering stands,
        which the worker moves in the transaction that logs the events (so it holds even after
        retention pruned the log). One primary-key lookup."""
        rows = await self._rows(
            f"SELECT last_event_seq FROM {CONFIG_TABLE} WHERE project_id = %s",  # noqa: S608
            [project_id],
        )
        return int(rows[0][0]) if rows else 0

    # Subscribers ------------------------------------------------------------------------------

    async def subscribe(
        self, *, project_id: str, model_name: str, actions: frozenset[str], after: int | None
    ) -> Subscriber:
        """A subscriber of the project's events after ``after`` (None: from now on).

        It joins the project's feed before anything is awaited: a feed is dropped once it has no
        subscribers, and one that joined only after an await could find its feed dropped
        meanwhile (the project's last other stream closed) and never get a live event. Until
        its cursor is known it only collects what is dispatched; ``next_frames`` reads the
        backlog first and skips what is at or before the cursor."""
        feed = self.feeds.get(project_id)
        new = feed is None
        if feed is None:
            feed = self.feeds[project_id] = Feed()
        subscriber = Subscriber(project_id, model_name, actions, cursor=after or 0)
        feed.subscribers.add(subscriber)
        try:
            if new:
                feed.last_id = await self.latest_id(project_id)
                self._fetch_soon(project_id)  # anything committed while we asked
            if after is None:
                subscriber.cursor = await self.latest_id(project_id)
        except BaseException:
            self.unsubscribe(subscriber)
            raise
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = self.feeds.get(subscriber.project_id)
        if feed is None:
            return
        feed.subscribers.discard(subscriber)
        if not feed.subscribers and not feed.fetching:
            del self.feeds[subscriber.project_id]

    async def next_frames(self, subscriber: Subscriber, timeout: float) -> list[bytes]:
        """The next frames for the subscriber, in order; empty after ``timeout`` seconds without any.
        ``StreamEnded`` once the subscriber was ended, even with frames at hand."""
        while True:
            if subscriber.ended is not None:
                raise StreamEnded(subscriber.ended)
            frames: list[bytes] = []
            if subscriber.behind:
                overflows = subscriber.overflows
                rows = await self._rows(
                    f"SELECT {COLUMNS} FROM {EVENT_TABLE} "  # noqa: S608
                    "WHERE project_id = %s AND model_name = %s AND seq > %s ORDER BY seq LIMIT %s",
                    [subscriber.project_id, subscriber.model_name, subscriber.cursor, PAGE],
                )
                for row in rows:
                    event = _event(row)
                    subscriber.cursor = event.id
                    if subscriber.wants(event):
                        frames.append(event.frame)
                # A short page means caught up, unless live events were dropped meanwhile (they may
                # have committed after this query's snapshot).
                if len(rows) < PAGE and subscriber.overflows == overflows:
                    subscriber.behind = False
                if subscriber.ended is not None:
                    raise StreamEnded(subscriber.ended)
                if frames:
                    return frames
                if subscriber.behind:
                    continue
            while subscriber.pending:
                for event in subscriber.pending.popleft():
                    if event.id > subscriber.cursor:
                        subscriber.cursor = event.id
                        if subscriber.wants(event):
                            frames.append(event.frame)
            subscriber.pending_count = 0
            subscriber.wake.clear()
            if frames:
                return frames
            if subscriber.behind:
                continue
            try:
                # Not asyncio.wait_for: on Python 3.11 it drops a cancellation that arrives in the
                # same loop iteration as the wake-up (gh-86296), and the cancelled stream would
                # live on after its client left, holding its name. timeout() passes it through.
                async with asyncio.timeout(timeout):
                    await subscriber.wake.wait()
            except TimeoutError:
                return []

    # The live feed ------------------------------------------------------------------------------

    def _fetch_soon(self, project_id: str) -> None:
        feed = self.feeds.get(project_id)
        if feed is None or feed.last_id is None:
            return  # not started yet: subscribe() fetches once it knows where the feed starts
        if feed.fetching:
            feed.again = True
            return
        feed.fetching = True
        task = asyncio.ensure_future(self._fetch(project_id, feed))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fetch(self, project_id: str, feed: Feed) -> None:
        try:
            while True:
                feed.again = False
                rows = await self._rows(
                    f"SELECT {COLUMNS} FROM {EVENT_TABLE} "  # noqa: S608
                    "WHERE project_id = %s AND seq > %s ORDER BY seq LIMIT %s",
                    [project_id, feed.last_id or 0, FEED_PAGE],
                )
                if rows:
                    events = [_event(row) for row in rows]
                    feed.last_id = events[-1].id
                    for subscriber in list(feed.subscribers):
                        subscriber.push(events)
                if len(rows) < FEED_PAGE and not feed.again:
                    break
        except Exception:
            log.exception(
                "could not read new events of project %s; the next notification retries", project_id
            )
        finally:
            feed.fetching = False
            if not feed.subscribers and self.feeds.get(project_id) is feed:
                del self.feeds[project_id]

    async def _listen(self, kwargs: dict[str, Any]) -> None:
        backoff = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**kwargs) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.5
                    # Anything committed while we were not listening.
                    for project_id in list(self.feeds):
                        self._fetch_soon(project_id)
                    async for notify in connection.notifies():
                        self._fetch_soon(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); reconnecting in %.1fs", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
