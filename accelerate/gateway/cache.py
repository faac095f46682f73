"""The Accelerate query cache: one small interface, two stores.

- ``LocalQueryCache``: in this process (the embedded default runs one process).
- ``RedisQueryCache``: shared by every gateway process through Redis (``CACHE_URL``),
  using redis-py's asyncio client so a hit needs no thread hop.

Invalidation is by version: each project has a *generation* (bumped by invalidate-all)
and each tag a *version* (bumped by invalidate); an entry remembers the ones it was
computed under and is dead as soon as any moved. The gateway takes a ``snapshot`` of
them *before* it runs the query, so a result computed while an invalidation happens is
stored already dead, never resurrecting stale data. Entries of two projects never share
a key: every key is namespaced by project id.
"""

from __future__ import annotations

import abc
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Clock = Callable[[], float]

log = logging.getLogger("accelerate.gateway")


@dataclass(frozen=True, slots=True)
class Versions:
    generation: int
    tags: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes  # the encoded result: {"columns": …, "rows": …, "rowCount": …}
    created: float  # seconds since the epoch (the response's lastModified)
    ttl: float
    swr: float
    tags: tuple[str, ...]
    versions: Versions

    def state(self, now: float) -> str:
        """'ttl' while fresh, 'swr' while stale but servable, else 'expired'."""
        age = now - self.created
        if age < self.ttl:
            return "ttl"
        if age < self.ttl + self.swr:
            return "swr"
        return "expired"


class QueryCache(abc.ABC):
    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock

    @abc.abstractmethod
    async def snapshot(self, project: str, tags: Sequence[str]) -> Versions:
        """The generation and tag versions now; pass them to ``store`` after the query ran."""

    @abc.abstractmethod
    async def lookup(self, project: str, key: str) -> Entry | None:
        """The live entry (fresh or stale-while-revalidate), or None (absent, expired, invalidated)."""

    @abc.abstractmethod
    async def store(
        self,
        project: str,
        key: str,
        body: bytes,
        *,
        ttl: float,
        swr: float,
        tags: Sequence[str],
        versions: Versions,
        created: float,
    ) -> None: ...

    @abc.abstractmethod
    async def invalidate_tags(self, project: str, tags: Sequence[str]) -> None: ...

    @abc.abstractmethod
    async def invalidate_all(self, project: str) -> None: ...

    @abc.abstractmethod
    async def claim_refresh(self, project: str, key: str, hold: float) -> bool:
        """True for exactly one caller per entry within ``hold`` seconds (the background refresher)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LocalQueryCache(QueryCache):
    """A bounded, least-recently-used cache in this process."""

    def __init__(self, clock: Clock = time.time, max_entries: int = 10_000) -> None:
        super().__init__(clock)
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Entry] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._tags: dict[tuple[str, str], int] = {}
        self._refreshing: dict[tuple[str, str], float] = {}

    async def snapshot(self, project: str, tags: Sequence[str]) -> Versions:
        return Versions(
            self._generations.get(project, 0), tuple(self._tags.get((project, t), 0) for t in tags)
        )

    async def lookup(self, project: str, key: str) -> Entry | None:
        entry = self._entries.get((project, key))
        if entry is None:
            return None
        if entry.state(self.clock()) == "expired" or entry.versions != await self.snapshot(
            project, entry.tags
        ):
            del self._entries[(project, key)]
            return None
        self._entries.move_to_end((project, key))
        return entry

    async def store(
        self,
        project: str,
        key: str,
        body: bytes,
        *,
        ttl: float,
        swr: float,
        tags: Sequence[str],
        versions: Versions,
        created: float,
    ) -> None:
        self._entries[(project, key)] = Entry(body, created, ttl, swr, tuple(tags), versions)
        self._entries.move_to_end((project, key))
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        self._refreshing.pop((project, key), None)

    async def invalidate_tags(self, project: str, tags: Sequence[str]) -> None:
        for tag in tags:
            self._tags[(project, tag)] = self._tags.get((project, tag), 0) + 1

    async def invalidate_all(self, project: str) -> None:
        self._generations[project] = self._generations.get(project, 0) + 1

    async def claim_refresh(self, project: str, key: str, hold: float) -> bool:
        now = self.clock()
        if self._refreshing.get((project, key), 0) > now:
            return False
        self._refreshing[(project, key)] = now + hold
        return True


class RedisQueryCache(QueryCache):
    """Entries and versions in Redis, shared by every gateway process.

    ``timeout`` bounds every Redis call (connect and each command): a Redis that stops
    answering costs a request at most that long (then ``DegradingQueryCache`` skips it).
    """

    def __init__(
        self, url: str, clock: Clock = time.time, prefix: str = "accelerate", timeout: float = 0.5
    ) -> None:
        super().__init__(clock)
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self.prefix = prefix

    def _key(self, project: str, kind: str, name: str = "") -> str:
        return f"{self.prefix}:{project}:{kind}:{name}"

    async def snapshot(self, project: str, tags: Sequence[str]) -> Versions:
        values = await self.redis.mget([self._key(project, "g"), *(self._key(project, "t", t) for t in tags)])
        numbers = [int(v) if v is not None else 0 for v in values]
        return Versions(numbers[0], tuple(numbers[1:]))

    async def lookup(self, project: str, key: str) -> Entry | None:
        generation, raw = await self.redis.mget([self._key(project, "g"), self._key(project, "e", key)])
        if raw is None:
            return None
        header, _, body = (raw if isinstance(raw, bytes) else raw.encode()).partition(b"\n")
        meta = json.loads(header)
        entry = Entry(
            body, meta["c"], meta["t"], meta["s"], tuple(meta["tags"]), Versions(meta["g"], tuple(meta["v"]))
        )
        if entry.versions.generation != (int(generation) if generation is not None else 0):
            return None
        if entry.tags and (await self.snapshot(project, entry.tags)).tags != entry.versions.tags:
            return None
        if entry.state(self.clock()) == "expired":
            return None
        return entry

    async def store(
        self,
        project: str,
        key: str,
        body: bytes,
        *,
        ttl: float,
        swr: float,
        tags: Sequence[str],
        versions: Versions,
        created: float,
    ) -> None:
        meta = {
            "c": created,
            "t": ttl,
            "s": swr,
            "tags": list(tags),
            "g": versions.generation,
            "v": versions.tags,
        }
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                self._key(project, "e", key),
                json.dumps(meta).encode() + b"\n" + body,
                ex=max(1, math.ceil(ttl + swr)),
            )
            pipe.delete(self._key(project, "r", key))
            await pipe.execute()

    async def invalidate_tags(self, project: str, tags: Sequence[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.incr(self._key(project, "t", tag))
            await pipe.execute()

    async def invalidate_all(self, project: str) -> None:
        await self.redis.incr(self._key(project, "g"))

    async def claim_refresh(self, project: str, key: str, hold: float) -> bool:
        return bool(
            await self.redis.set(self._key(project, "r", key), b"1", nx=True, px=max(1, int(hold * 1000)))
        )

    async def close(self) -> None:
        await self.redis.aclose()


# What ``DegradingQueryCache.snapshot`` answers while the shared cache is unavailable: an entry
# computed under it is not stored.
UNAVAILABLE = Versions(-1, ())


class CacheUnavailable(Exception):
    """The shared cache failed, so an invalidation could not be recorded."""


class DegradingQueryCache(QueryCache):
    """A shared cache whose outage degrades to misses instead of failing requests.

    While the inner cache (Redis) fails, lookups are misses, results are not stored and no
    background refresh is claimed: queries run on the database, as with no cache at all.
    After a failure the inner cache is left alone for ``pause`` seconds (so a Redis that
    hangs costs one request its timeout per pause, not every request), then tried again.
    Invalidations are the exception: one that cannot be recorded raises CacheUnavailable,
    because an entry it should have killed could be served again once Redis is back.
    """

    def __init__(self, inner: QueryCache, *, pause: float = 1.0, monotonic: Clock = time.monotonic) -> None:
        super().__init__(inner.clock)
        self.inner = inner
        self.pause = pause
        self.monotonic = monotonic
        self._down_until = float("-inf")
        self.failures = 0

    @property
    def available(self) -> bool:
        return self.monotonic() >= self._down_until

    def _failed(self, operation: str, error: Exception) -> None:
        if self.available:  # once per outage and pause, not once per request
            log.warning(
                "query cache unavailable (%s: %r): serving misses for %.1fs", operation, error, self.pause
            )
        self.failures += 1
        self._down_until = self.monotonic() + self.pause

    async def snapshot(self, project: str, tags: Sequence[str]) -> Versions:
        if not self.available:
            return UNAVAILABLE
        try:
            return await self.inner.snapshot(project, tags)
        except Exception as error:
            self._failed("snapshot", error)
            return UNAVAILABLE

    async def lookup(self, project: str, key: str) -> Entry | None:
        if not self.available:
            return None
        try:
            return await self.inner.lookup(project, key)
        except Exception as error:
            self._failed("lookup", error)
            return None

    async def store(
        self,
        project: str,
        key: str,
        body: bytes,
        *,
        ttl: float,
        swr: float,
        tags: Sequence[str],
        versions: Versions,
        created: float,
    ) -> None:
        if versions == UNAVAILABLE or not self.available:
            return
        try:
            await self.inner.store(
                project, key, body, ttl=ttl, swr=swr, tags=tags, versions=versions, created=created
            )
        except Exception as error:
            self._failed("store", error)

    async def invalidate_tags(self, project: str, tags: Sequence[str]) -> None:
        try:
            await self.inner.invalidate_tags(project, tags)
        except Exception as error:
            self._failed("invalidate", error)
            raise CacheUnavailable from error

    async def invalidate_all(self, project: str) -> None:
        try:
            await self.inner.invalidate_all(project)
        except Exception as error:
            self._failed("invalidate-all", error)
            raise CacheUnavailable from error

    async def claim_refresh(self, project: str, key: str, hold: float) -> bool:
        if not self.available:
            return False
        try:
            return await self.inner.claim_refresh(project, key, hold)
        except Exception as error:
            self._failed("claim_refresh", error)
            return False

    async def close(self) -> None:
        await self.inner.close()
