"""The hub's wait for new events must let a cancellation through, even one that arrives in the same
loop iteration as an event: a stream whose client left is cancelled, and a lost cancellation would
leave it running, renewing its name's lease, so the name could never be opened again."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pulse.stream.hub import Event, Hub, Subscriber, sse_frame


def _event(event_id: int) -> Event:
    committed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    frame = sse_frame(event_id, "orders", "create", '{"created": {}}', 1, committed)
    return Event(event_id, "orders", "create", frame)


def test_a_waiting_subscriber_cancelled_as_an_event_arrives_is_cancelled():
    async def scenario() -> None:
        hub = Hub(dict)  # never started: a subscriber that is not behind reads nothing from the table
        subscriber = Subscriber("project", "orders", frozenset(), cursor=0, behind=False)
        waiting = asyncio.ensure_future(hub.next_frames(subscriber, timeout=10))
        await asyncio.sleep(0)  # it waits for the wake-up now
        subscriber.push([_event(1)])  # an event arrives...
        waiting.cancel()  # ...and in the same iteration the stream is cancelled (its client left)
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario())


def test_a_waiting_subscriber_gets_the_event_or_an_empty_heartbeat():
    async def scenario() -> None:
        hub = Hub(dict)
        subscriber = Subscriber("project", "orders", frozenset(), cursor=0, behind=False)
        assert await hub.next_frames(subscriber, timeout=0.05) == []
        asyncio.get_running_loop().call_later(0.01, subscriber.push, [_event(1)])
        frames = await hub.next_frames(subscriber, timeout=10)
        assert frames == [_event(1).frame]
        assert subscriber.cursor == 1

    asyncio.run(scenario())


class TableHub(Hub):
    """The hub over an in-memory event table, whose ``latest_id`` can be held at a gate: to put a
    subscriber's ``subscribe`` at its await while something else happens."""

    def __init__(self) -> None:
        super().__init__(dict)
        self.table: list[tuple[int, str, str, str, int, dt.datetime]] = []
        self.gate: asyncio.Event | None = None

    def add(self, seq: int) -> None:
        committed = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self.table.append((seq, "orders", "create", f'{{"created": {{"id": {seq}}}}}', seq, committed))

    async def latest_id(self, project_id: str) -> int:
        if self.gate is not None:
            await self.gate.wait()
        return max((row[0] for row in self.table), default=0)

    async def _rows(self, query: str, params: list) -> list:
        await asyncio.sleep(0)
        if len(params) == 4:  # a subscriber's backlog: project, model, after, page
            _, model, after, page = params
            return [row for row in self.table if row[1] == model and row[0] > after][:page]
        _, after, page = params  # the live feed: project, after, page
        return [row for row in self.table if row[0] > after][:page]


def test_a_subscriber_joining_as_the_last_one_leaves_still_gets_live_events():
    """The race behind bench/pulse's "5000 not received": a stream subscribing while the project's
    only other stream closed (between two bench runs) was added to a feed the hub had just
    dropped, and never received a live event."""

    async def scenario() -> None:
        hub = TableHub()
        leaving = await hub.subscribe(project_id="p", model_name="orders", actions=frozenset(), after=None)
        hub.gate = asyncio.Event()
        joining = asyncio.ensure_future(
            hub.subscribe(project_id="p", model_name="orders", actions=frozenset(), after=None)
        )
        await asyncio.sleep(0.01)  # the new stream waits for the project's newest id...
        hub.unsubscribe(leaving)  # ...while the last stream of the project closes
        hub.gate.set()
        subscriber = await joining
        assert await hub.next_frames(subscriber, timeout=0.05) == []  # caught up: nothing yet
        hub.add(1)
        hub._fetch_soon("p")  # what the NOTIFY of the new event does
        frames = await hub.next_frames(subscriber, timeout=2)
        assert frames and b"id: 1\n" in frames[0]
        await hub.close()

    asyncio.run(scenario())
