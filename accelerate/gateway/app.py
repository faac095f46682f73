"""The Accelerate gateway: ``POST /accelerate/v1/query``, ``/invalidate``, ``/invalidate-all``.

A lean Starlette application (no Django request cycle on the hot path: DESIGN.md section 2).
It authenticates the project API key, finds the project's database through an in-process
table of targets, answers cache hits without touching any database, and runs misses on a
bounded per-database pool. Wire protocol: docs/accelerate.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from accelerate.gateway import query
from accelerate.gateway.cache import CacheUnavailable, QueryCache
from accelerate.gateway.pool import ConnectFailed, ConnectionPool
from dataplane.bodies import read_json
from dataplane.errors import DataPlaneError, error_response, request_id_of
from dataplane.keys import api_key_of
from dataplane.limits import TokenBuckets
from dataplane.middleware import RequestContext
from usage.metering import Meter
from userdb.connection_strings import ConnectionString, ConnectionStringError, resolve_allowed_address_async

log = logging.getLogger("accelerate.gateway")
T = TypeVar("T")

MAX_BODY_BYTES = 1024 * 1024
MAX_QUERY_CHARS = 256 * 1024
MAX_PARAMS = 65535  # PostgreSQL's limit on bind parameters
MAX_TAGS = 5
MAX_CACHE_SECONDS = 365 * 24 * 3600
TAG = re.compile(r"[A-Za-z0-9_]{1,64}")
CACHE_FIELDS = frozenset({"ttl", "swr", "tags"})
REFRESH_HOLD_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Target:
    """What the gateway needs to serve one project's requests."""

    project_id: str
    organization_id: int
    database: ConnectionString
    connection_limit: int
    pool_timeout: float
    query_timeout: float
    response_limit: int
    version: str  # changes whenever the configuration does: the pool is rebuilt


Resolver = Callable[[str], Awaitable[Target]]


@dataclass(slots=True)
class CacheStrategy:
    ttl: float
    swr: float
    tags: tuple[str, ...]


@dataclass(slots=True)
class QueryRequest:
    sql: str
    params: list[Any]
    cache: CacheStrategy | None


class Gateway:
    def __init__(
        self,
        *,
        resolver: Resolver,
        cache: QueryCache,
        region: str,
        meter: Meter,
        limiter: TokenBuckets | None = None,
    ) -> None:
        self.resolve = resolver
        self.cache = cache
        self.region = region
        self.meter = meter
        self.limiter = limiter
        self.pools: dict[str, tuple[str, ConnectionPool]] = {}
        self._inflight: dict[tuple[str, str], asyncio.Future[tuple[bytes, float]]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # Pools ------------------------------------------------------------------------------------

    def pool_for(self, target: Target) -> ConnectionPool:
        current = self.pools.get(target.project_id)
        if current is not None and current[0] == target.version:
            return current[1]
        pool = ConnectionPool(
            connector(target), max_size=target.connection_limit, timeout=target.pool_timeout
        )
        self.pools[target.project_id] = (target.version, pool)
        if current is not None:
            self._spawn(current[1].close())
        return pool

    async def drop_pool(self, project_id: str) -> None:
        entry = self.pools.pop(project_id, None)
        if entry is not None:
            await entry[1].close()

    async def close(self) -> None:
        for project_id in list(self.pools):
            await self.drop_pool(project_id)
        for task in list(self._background):
            task.cancel()
        await self.cache.close()

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # Requests ---------------------------------------------------------------------------------

    def admit(self, request: Request) -> str:
        """The request's API key, if the key is within its rate limit (P6003 otherwise).

        Checked before the key is even looked up, so a flood costs no database work; the
        limit is per key and per process (docs/security.md).
        """
        raw_key = api_key_of(request)
        if self.limiter is not None and (wait := self.limiter.take(raw_key)):
            raise DataPlaneError(
                "P6003",
                f"This API key is over its limit of {self.limiter.rate:g} requests a second: "
                "retry after the number of seconds in Retry-After.",
                retry_after=max(1, math.ceil(wait)),
            )
        return raw_key

    async def handle_query(self, request: Request) -> Response:
        target = await self.resolve(self.admit(request))
        request.state.log["project"] = target.project_id
        try:
            spec = parse_query_request(await read_json(request, limit=MAX_BODY_BYTES))
            body, status, modified = await self._answer(request, target, spec)
        except DataPlaneError:
            self.meter.add(
                organization_id=target.organization_id, project_id=target.project_id, queries=1, errors=1
            )
            raise
        request.state.log["cache"] = status
        info = {
            "cacheStatus": status,
            "lastModified": modified,
            "region": self.region,
            "requestId": request_id_of(request),
        }
        payload = b"{" + body + b',"info":' + json.dumps(info, separators=(",", ":")).encode() + b"}"
        counts = {"queries": 1, "egress_bytes": len(payload)}
        if status in ("ttl", "swr"):
            counts[f"cache_hits_{status}"] = 1
        elif status == "miss":
            counts["cache_misses"] = 1
        self.meter.add(organization_id=target.organization_id, project_id=target.project_id, **counts)
        return Response(payload, media_type="application/json")

    async def _answer(self, request: Request, target: Target, spec: QueryRequest) -> tuple[bytes, str, str]:
        if spec.cache is None:
            body = await cancel_on_disconnect(request, self._run(target, spec, read_only=False))
            return body, "none", iso_now()

        async def run() -> bytes:
            return await self._run(target, spec, read_only=True)

        body, status, created = await self.cached(target, cache_key(spec.sql, spec.params), spec.cache, run)
        return body, status, iso(created)

    async def cached(
        self, target: Target, key: str, strategy: CacheStrategy, run: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, str, float]:
        """The answer for ``key`` of the project: from the cache (``ttl`` / ``swr``) or from
        ``run`` (``miss``, then stored), with the time it was read from the database.

        Both protocols use it (the raw one and Prisma's). ``run`` must read only (the caller
        runs it on a read-only connection).
        """
        found = await self.from_cache(target, key, strategy, run)
        if found is not None:
            return found
        return await self.fill(target, key, strategy, run)

    async def from_cache(
        self, target: Target, key: str, strategy: CacheStrategy, run: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, str, float] | None:
        """A live entry (``ttl``, or ``swr`` while one background refresh runs ``run``), or None."""
        entry = await self.cache.lookup(target.project_id, key)
        if entry is None:
            return None
        state = entry.state(self.cache.clock())
        if state == "swr" and await self.cache.claim_refresh(target.project_id, key, REFRESH_HOLD_SECONDS):
            self._spawn(self._fill(target, key, strategy, run))
        return entry.body, state, entry.created

    async def fill(
        self, target: Target, key: str, strategy: CacheStrategy, run: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, str, float]:
        """A miss: ``run`` once for all concurrent callers of the key (not cancelled when one of
        the waiting clients goes away: the others still want it), stored, status ``miss``."""
        flight = self._inflight.get((target.project_id, key))
        if flight is None:
            flight = asyncio.ensure_future(self._fill(target, key, strategy, run))
            self._inflight[(target.project_id, key)] = flight
            flight.add_done_callback(lambda _: self._inflight.pop((target.project_id, key), None))
        body, created = await asyncio.shield(flight)
        return body, "miss", created

    async def _fill(
        self, target: Target, key: str, strategy: CacheStrategy, run: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, float]:
        versions = await self.cache.snapshot(target.project_id, strategy.tags)
        created = self.cache.clock()
        body = await run()
        await self.cache.store(
            target.project_id,
            key,
            body,
            ttl=strategy.ttl,
            swr=strategy.swr,
            tags=strategy.tags,
            versions=versions,
            created=created,
        )
        return body, created

    async def _run(self, target: Target, spec: QueryRequest, *, read_only: bool) -> bytes:
        pool = self.pool_for(target)
        try:
            # The server's statement_timeout cancels a slow query; this bounds the wait for the
            # pool and for a server that does not answer at all.
            async with asyncio.timeout(target.pool_timeout + target.query_timeout + 1):
                body, _ = await query.execute(
                    pool, spec.sql, spec.params, read_only=read_only, max_bytes=target.response_limit
                )
        except TimeoutError:
            raise DataPlaneError(
                "P6004", "The query took longer than the query timeout and was cancelled."
            ) from None
        return body

    async def handle_invalidate(self, request: Request, *, everything: bool) -> Response:
        target = await self.resolve(self.admit(request))
        request.state.log["project"] = target.project_id
        try:
            if everything:
                await self.cache.invalidate_all(target.project_id)
            else:
                payload = await read_json(request, limit=MAX_BODY_BYTES)
                tags = parse_tags(payload.get("tags") if isinstance(payload, dict) else None, required=True)
                await self.cache.invalidate_tags(target.project_id, tags)
        except CacheUnavailable:
            raise DataPlaneError(
                "P6000", "The query cache is unavailable, so the invalidation was not recorded: retry it."
            ) from None
        return Response(
            json.dumps({"ok": True, "requestId": request_id_of(request)}, separators=(",", ":")),
            media_type="application/json",
        )


def _log_failure(task: asyncio.Future[Any]) -> None:
    """A background task (a refresh, closing a pool) that failed: say so once, in the log."""
    if not task.cancelled() and (error := task.exception()) is not None:
        message = error.message if isinstance(error, DataPlaneError) else repr(error)
        log.warning("background work failed: %s", message)


def connector(target: Target) -> Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]:
    """Opens a connection to the target's database: host resolved and checked against the SSRF
    guard on every connect (DESIGN.md section 6), pinned to that address, with the query
    timeout as the server's statement_timeout."""
    database = target.database
    options = f"-c statement_timeout={int(target.query_timeout * 1000)}"
    if database.schema:
        options += f" -c search_path={database.schema}"

    async def connect() -> psycopg.AsyncConnection[Any]:
        try:
            address = await resolve_allowed_address_async(database.host, database.port)
        except ConnectionStringError as error:
            raise ConnectFailed(error.message) from None
        kwargs = database.connect_kwargs(hostaddr=address, connect_timeout=min(5.0, target.pool_timeout))
        kwargs["options"] = f"{kwargs.get('options', '')} {options}".strip()
        try:
            return await psycopg.AsyncConnection.connect(autocommit=True, **kwargs)
        except psycopg.OperationalError as error:
            raise ConnectFailed(str(error)) from None

    return connect


# Parsing ----------------------------------------------------------------------------------------


def parse_query_request(payload: Any) -> QueryRequest:
    if not isinstance(payload, dict):
        raise DataPlaneError("P6005", "The request body must be a JSON object.")
    sql = payload.get("query")
    if not isinstance(sql, str) or not sql.strip():
        raise DataPlaneError("P6005", "`query` must be a non-empty string of SQL.")
    if len(sql) > MAX_QUERY_CHARS:
        raise DataPlaneError("P6005", f"`query` is longer than {MAX_QUERY_CHARS:,} characters.")
    if "\x00" in sql:
        raise DataPlaneError("P6005", "`query` must not contain NUL characters.")
    params = payload.get("params", [])
    if not isinstance(params, list):
        raise DataPlaneError("P6005", "`params` must be an array of values for $1, $2, ….")
    if len(params) > MAX_PARAMS:
        raise DataPlaneError("P6005", f"At most {MAX_PARAMS} parameters are allowed.")
    if any(isinstance(value, str) and "\x00" in value for value in params):
        raise DataPlaneError("P6005", "Parameters must not contain NUL characters.")
    unknown = set(payload) - {"query", "params", "cacheStrategy"}
    if unknown:
        raise DataPlaneError("P6005", f"Unknown field(s): {', '.join(sorted(unknown))}.")
    strategy = payload.get("cacheStrategy")
    return QueryRequest(sql, params, None if strategy is None else parse_cache_strategy(strategy))


def parse_cache_strategy(strategy: Any) -> CacheStrategy:
    if not isinstance(strategy, dict):
        raise DataPlaneError("P6005", "`cacheStrategy` must be an object with ttl, swr and tags.")
    unknown = set(strategy) - CACHE_FIELDS
    if unknown:
        raise DataPlaneError("P6005", f"Unknown cacheStrategy field(s): {', '.join(sorted(unknown))}.")
    numbers = {}
    for name in ("ttl", "swr"):
        value = strategy.get(name, 0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= MAX_CACHE_SECONDS
        ):
            raise DataPlaneError(
                "P6005", f"`cacheStrategy.{name}` must be a number of seconds from 0 to {MAX_CACHE_SECONDS}."
            )
        numbers[name] = float(value)
    if numbers["ttl"] == 0 and numbers["swr"] == 0:
        raise DataPlaneError("P6005", "A cacheStrategy needs a ttl or an swr greater than 0.")
    return CacheStrategy(numbers["ttl"], numbers["swr"], parse_tags(strategy.get("tags"), required=False))


def parse_tags(tags: Any, *, required: bool) -> tuple[str, ...]:
    if tags is None and not required:
        return ()
    if not isinstance(tags, list) or (required and not tags):
        raise DataPlaneError("P6005", "`tags` must be an array of 1 to 5 tags.")
    if len(tags) > MAX_TAGS:
        raise DataPlaneError("P6005", f"At most {MAX_TAGS} tags are allowed.")
    for tag in tags:
        if not isinstance(tag, str) or not TAG.fullmatch(tag):
            raise DataPlaneError("P6005", "Each tag must be 1 to 64 letters, digits or underscores.")
    return tuple(dict.fromkeys(tags))


def cache_key(sql: str, params: list[Any]) -> str:
    canonical = json.dumps(params, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{sql}\x00{canonical}".encode()).hexdigest()


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


def iso_now() -> str:
    return iso(time.time())


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run the work, cancelling it (and so the query on the server) if the client goes away.

    The work runs in the caller's task; a watcher task waits for the client's disconnect and
    cancels the caller then (one task per request, not two: this is on every uncached request).
    """
    task = asyncio.current_task()
    if task is None:  # not in a task: nothing to cancel
        return await work
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise DataPlaneError("P6000", "The client closed the connection.") from None
    finally:
        watcher.cancel()


# The application -------------------------------------------------------------------------------


def build_app(gateway: Gateway) -> ASGIApp:
    """The raw-SQL protocol (docs/accelerate.md), mounted at ``/accelerate/v1`` by config/dataplane.py."""

    async def run_query(request: Request) -> Response:
        return await gateway.handle_query(request)

    async def invalidate(request: Request) -> Response:
        return await gateway.handle_invalidate(request, everything=False)

    async def invalidate_all(request: Request) -> Response:
        return await gateway.handle_invalidate(request, everything=True)

    app = Starlette(
        routes=[
            Route("/query", run_query, methods=["POST"]),
            Route("/invalidate", invalidate, methods=["POST"]),
            Route("/invalidate-all", invalidate_all, methods=["POST"]),
        ],
        exception_handlers={DataPlaneError: error_response, Exception: error_response},
    )
    return RequestContext(app, logger="accelerate.gateway")
