"""The gateway's pool: a request cancelled while it waits for a slot (its client left) stops there,
even when the slot comes free in the same loop iteration; it opens no connection and holds no slot."""

from __future__ import annotations

import asyncio

import pytest

from accelerate.gateway.pool import ConnectFailed, ConnectionPool, PoolTimeout


def test_a_caller_cancelled_as_a_slot_comes_free_is_cancelled_and_holds_nothing():
    connects: list[str] = []

    async def connect():
        connects.append("connect")
        raise ConnectFailed("not reached in this test")

    async def scenario() -> None:
        pool = ConnectionPool(connect, max_size=1, timeout=10)
        await pool._slots.acquire()  # the only slot is busy

        async def use() -> None:
            async with pool.connection():
                pass

        waiting = asyncio.ensure_future(use())
        await asyncio.sleep(0)  # it waits for the slot
        pool._slots.release()  # the slot comes free...
        waiting.cancel()  # ...as the caller is cancelled
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert connects == []
        assert not pool._slots.locked() and pool.in_use == 0

    asyncio.run(scenario())


def test_a_caller_that_waits_longer_than_the_pool_timeout_gets_pool_timeout():
    async def connect():
        raise ConnectFailed("not reached in this test")

    async def scenario() -> None:
        pool = ConnectionPool(connect, max_size=1, timeout=0.05)
        await pool._slots.acquire()
        with pytest.raises(PoolTimeout, match="all 1 connections stayed busy for 0.05s"):
            async with pool.connection():
                pass

    asyncio.run(scenario())
