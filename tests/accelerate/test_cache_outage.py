"""Redis going away: the gateway's cache degrades to misses, queries still answer, and an
invalidation that cannot be recorded says so; when Redis is back, caching resumes."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from accelerate.gateway.cache import (
    UNAVAILABLE,
    CacheUnavailable,
    DegradingQueryCache,
    RedisQueryCache,
    Versions,
)
from tests.accelerate.test_gateway import post


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_dead_redis_means_misses_then_caching_resumes_when_it_is_back(throwaway_redis):
    async def scenario() -> None:
        pause = Clock()
        cache = DegradingQueryCache(RedisQueryCache(throwaway_redis.url), pause=1.0, monotonic=pause)
        versions = await cache.snapshot("p", ["t"])
        assert versions == Versions(0, (0,))
        await cache.store(
            "p", "k", b"body", ttl=60, swr=0, tags=["t"], versions=versions, created=time.time()
        )
        entry = await cache.lookup("p", "k")
        assert entry is not None and entry.body == b"body"

        throwaway_redis.kill()
        started = time.monotonic()
        assert await cache.lookup("p", "k") is None
        assert await cache.snapshot("p", ["t"]) == UNAVAILABLE
        await cache.store("p", "k2", b"x", ttl=60, swr=0, tags=[], versions=UNAVAILABLE, created=time.time())
        assert await cache.claim_refresh("p", "k", 30) is False
        with pytest.raises(CacheUnavailable):
            await cache.invalidate_tags("p", ["t"])
        assert time.monotonic() - started < 1.0  # refused at once, never waiting on a dead server
        assert cache.failures >= 1

        throwaway_redis.start()  # back, empty
        assert await cache.lookup("p", "k") is None  # still pausing: not even tried
        pause.now += 1.0
        versions = await cache.snapshot("p", [])
        await cache.store("p", "k", b"again", ttl=60, swr=0, tags=[], versions=versions, created=time.time())
        entry = await cache.lookup("p", "k")
        assert entry is not None and entry.body == b"again"
        await cache.close()

    asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_the_gateway_answers_queries_as_misses_while_redis_is_down(items, gateway_server, throwaway_redis):
    gateway_server.gateway.cache = DegradingQueryCache(RedisQueryCache(throwaway_redis.url), pause=0.2)
    query = json.dumps(
        {"query": "SELECT name FROM items WHERE id = $1", "params": [1], "cacheStrategy": {"ttl": 60}}
    )
    statuses = []
    for _ in range(2):
        status, payload = post(gateway_server, "/accelerate/v1/query", query, items.key)
        statuses.append((status, payload["info"]["cacheStatus"]))
    assert statuses == [(200, "miss"), (200, "ttl")]

    throwaway_redis.kill()
    for _ in range(3):
        status, payload = post(gateway_server, "/accelerate/v1/query", query, items.key)
        assert (status, payload["info"]["cacheStatus"], payload["rows"]) == (200, "miss", [["one"]])
    status, payload = post(gateway_server, "/accelerate/v1/invalidate", '{"tags": ["items"]}', items.key)
    assert status == 500 and payload["error"]["code"] == "P6000"
    assert "invalidation was not recorded" in payload["error"]["message"]
