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
