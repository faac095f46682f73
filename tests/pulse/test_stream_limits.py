"""Per-key limits on the stream endpoint: a token bucket on connecting and acknowledging, and a
cap on the streams a key holds open in one process. Over either: P6003, 429, Retry-After."""

from __future__ import annotations

import asyncio

import pytest

from dataplane.limits import TokenBuckets
from pulse.stream.service import build_stream_service
from tests.pulse.conftest import RawStream
from tests.pulse.test_stream import ack

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_over_its_rate_gets_p6003_with_retry_after_on_connect_and_ack(live, stream_server):
    clock = Clock()
    stream_server.service.limiter = TokenBuckets(rate=1, burst=2, clock=clock)
    first = RawStream(live.url, live.key, model="orders")
    assert first.response.status == 200
    first.close()
    assert ack(live, "jobs", 0)[0] == 200  # (no event yet: 0 is the newest id there is)

    refused = RawStream(live.url, live.key, model="orders")
    assert refused.response.status == 429
    assert refused.response.getheader("Retry-After") == "1"
    error = refused.json()["error"]
    assert error["code"] == "P6003" and error["requestId"].startswith("req_")
    status, body = ack(live, "jobs", 2)
    assert status == 429 and body["error"]["code"] == "P6003"

    # Another key has its own bucket: an unknown one is answered on its merits.
    other = RawStream(live.url, "dpk_" + "x" * 38, model="orders")
    assert other.response.status == 401 and other.json()["error"]["code"] == "P6002"

    clock.now += 1.0
    again = RawStream(live.url, live.key, model="orders")
    assert again.response.status == 200
    again.close()


def test_a_key_may_hold_only_so_many_streams_open_at_once(live, stream_server):
    stream_server.service.connections_per_key = 2
    opened: list[RawStream] = []
    try:
        for _ in range(2):
            opened.append(RawStream(live.url, live.key, model="orders"))
            assert opened[-1].response.status == 200
            assert opened[-1].frame() == {"comment": "connected"}

        third = RawStream(live.url, live.key, model="orders")
        opened.append(third)
        assert third.response.status == 429
        assert third.response.getheader("Retry-After") == "1"
        error = third.json()["error"]
        assert error["code"] == "P6003" and "2 streams open" in error["message"]

        # Closing a stream frees a place; refused and bad requests do not take one.
        opened[0].close()
        stream_server.call(_until_open_count(stream_server.service, 1))
        bad = RawStream(live.url, live.key)  # no model
        opened.append(bad)
        assert bad.response.status == 400
        fourth = RawStream(live.url, live.key, model="orders")
        opened.append(fourth)
        assert fourth.response.status == 200
    finally:
        for raw in opened:
            raw.close()
    stream_server.call(_until_open_count(stream_server.service, 0))


async def _until_open_count(service, count: int) -> None:
    for _ in range(500):
        if service.open_connections == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"open streams stayed at {service.open_connections}, not {count}")


def test_the_stream_endpoint_takes_its_limits_from_settings(settings):
    settings.PULSE_STREAM_RATE_LIMIT_PER_SECOND = 7.0
    settings.PULSE_STREAM_RATE_LIMIT_BURST = 9
    settings.PULSE_STREAM_CONNECTIONS_PER_KEY = 3
    service = build_stream_service()
    assert service.limiter is not None
    assert (service.limiter.rate, service.limiter.burst, service.connections_per_key) == (7.0, 9.0, 3)
