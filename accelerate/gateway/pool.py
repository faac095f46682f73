"""A bounded pool of connections to one user database, for the gateway's event loop.

Why not psycopg_pool: a full pool and a database that is down must answer differently
(P6004 after the pool timeout, P6008 at once), and a pool that keeps reconnecting in the
background makes both look like a wait. Here a semaphore bounds the connections; a
caller waits for a slot up to the pool timeout, then either reuses an idle connection or
opens one with a connect timeout, so a dead database fails fast and the pool recovers by
itself on the next request. Idle connections that the server closed (a restart) are
noticed without a round trip: a healthy idle connection has nothing to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg import pq


class PoolTimeout(Exception):
    """No connection became free within the pool timeout."""


class ConnectFailed(Exception):
    """The database could not be reached or refused the connection."""


Connector = Callable[[], Awaitable[psycopg.AsyncConnection[Any]]]


class ConnectionPool:
    """At most ``max_size`` connections made by ``connect`` (which raises ConnectFailed when it cannot)."""

    def __init__(self, connect: Connector, *, max_size: int, timeout: float) -> None:
        self.connect = connect
        self.max_size = max_size
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._closed = False
        self.in_use = 0

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for the duration of the block; PoolTimeout or ConnectFailed otherwise."""
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the caller's
            # cancellation when the slot comes free at the same moment (gh-86296).
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"all {self.max_size} connections stayed busy for {self.timeout:g}s") from None
        self.in_use += 1
        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            conn = self._take_idle() or await self.connect()
            yield conn
        finally:
            self.in_use -= 1
            if conn is not None:
                await self._give_back(conn)
            self._slots.release()

    def _take_idle(self) -> psycopg.AsyncConnection[Any] | None:
        while self._idle:
            conn = self._idle.pop()
            if _looks_alive(conn):
                return conn
            _discard(conn)
        return None

    async def _give_back(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if self._closed or conn.closed:
            _discard(conn)
            return
        status = conn.info.transaction_status
        if status == pq.TransactionStatus.ACTIVE:
            # Cancelled mid-query (client went away, timeout): stop it on the server.
            with contextlib.suppress(psycopg.Error):
                await conn.cancel_safe(timeout=2)
            _discard(conn)
            return
        if status in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
            try:
                await conn.rollback()
            except psycopg.Error:
                _discard(conn)
                return
        if conn.info.transaction_status != pq.TransactionStatus.IDLE:
            _discard(conn)
            return
        self._idle.append(conn)

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(psycopg.Error):
                await conn.close()


def _looks_alive(conn: psycopg.AsyncConnection[Any]) -> bool:
    """An idle connection has nothing to read; readable means the server closed it or sent an error."""
    if conn.closed or conn.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _discard(conn: psycopg.AsyncConnection[Any]) -> None:
    with contextlib.suppress(Exception):
        conn.pgconn.finish()
