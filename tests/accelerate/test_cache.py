"""Cache semantics, the same for the in-process store and the shared Redis store."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from accelerate.gateway.cache import LocalQueryCache, RedisQueryCache

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture(params=["local", "redis"])
def caches(request):
    """run(scenario): scenario(writer, reader, clock) in one event loop, where writer and reader
    are the same local cache, or two Redis clients standing for two gateway processes."""
    if request.param == "redis" and not redis_available():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)

    def run(scenario):
        async def main():
            clock = Clock()
            if request.param == "local":
                cache = LocalQueryCache(clock)
                return await scenario(cache, cache, clock)
            prefix = f"test-{uuid.uuid4().hex}"
            first, second = (
                RedisQueryCache(REDIS_URL, clock, prefix),
                RedisQueryCache(REDIS_URL, clock, prefix),
            )
            try:
                return await scenario(first, second, clock)
            finally:
                await first.close()
                await second.close()

        return asyncio.run(main())

    return run


async def put(cache, project, key, body=b"[1]", ttl=60, swr=30, tags=()):
    versions = await cache.snapshot(project, tags)
    await cache.store(
        project, key, body, ttl=ttl, swr=swr, tags=tags, versions=versions, created=cache.clock()
    )


def test_fresh_then_stale_then_gone(caches):
    async def scenario(writer, reader, clock):
        await put(writer, "p1", "k", ttl=60, swr=30)
        states = []
        for advance in (0, 59.9, 0.2, 29.8, 0.1):
            clock.now += advance
            entry = await reader.lookup("p1", "k")
            states.append(entry.state(clock.now) if entry else "miss")
        return states

    assert caches(scenario) == ["ttl", "ttl", "swr", "swr", "miss"]


def test_tag_invalidation_is_immediate_everywhere(caches):
    async def scenario(writer, reader, clock):
        await put(writer, "p1", "users", tags=("users",))
        await put(writer, "p1", "posts", tags=("posts",))
        await reader.invalidate_tags("p1", ["users"])
        return await writer.lookup("p1", "users"), await writer.lookup("p1", "posts")

    users, posts = caches(scenario)
    assert users is None
    assert posts is not None


def test_invalidate_all_drops_every_entry_of_the_project_only(caches):
    async def scenario(writer, reader, clock):
        await put(writer, "p1", "a")
        await put(writer, "p2", "a")
        await reader.invalidate_all("p1")
        return await writer.lookup("p1", "a"), await writer.lookup("p2", "a")

    mine, theirs = caches(scenario)
    assert mine is None
    assert theirs is not None


def test_projects_never_share_entries(caches):
    async def scenario(writer, reader, clock):
        await put(writer, "p1", "same-sql", body=b"[1]")
        return await reader.lookup("p2", "same-sql")

    assert caches(scenario) is None


def test_a_result_computed_across_an_invalidation_is_stored_dead(caches):
    async def scenario(writer, reader, clock):
        versions = await writer.snapshot("p1", ["users"])  # before the query runs
        await reader.invalidate_tags("p1", ["users"])  # a write invalidates meanwhile
        await writer.store(
            "p1", "k", b"[old]", ttl=60, swr=0, tags=["users"], versions=versions, created=clock()
        )
        return await reader.lookup("p1", "k")

    assert caches(scenario) is None


def test_only_one_refresher_is_elected(caches):
    async def scenario(writer, reader, clock):
        return [await writer.claim_refresh("p1", "k", 5), await reader.claim_refresh("p1", "k", 5)]

    assert caches(scenario) == [True, False]


def test_the_local_cache_is_bounded():
    cache = LocalQueryCache(Clock(), max_entries=3)

    async def scenario():
        for n in range(5):
            await put(cache, "p", f"k{n}")
        return [await cache.lookup("p", f"k{n}") is not None for n in range(5)]

    assert asyncio.run(scenario()) == [False, False, True, True, True]
