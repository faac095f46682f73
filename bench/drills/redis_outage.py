"""Drill: Redis (CACHE_URL) goes away under load, then comes back empty.

A production console process uses a throwaway Redis for its cache and the gateway's query cache.
Clients send cached gateway queries, signed-in page views and (failing) logins; Redis is killed
(SIGKILL) for 4 s and restarted empty. Passes when every request is answered 200 (queries as
cache misses while Redis is away, logins still checked), none hangs, and cache hits resume
after Redis is back.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx

from bench.drills._harness import (
    UNLIMITED,
    ConsoleServer,
    Load,
    ThrowawayPostgres,
    console_env,
    manage,
    percentile_ms,
    seed,
    statuses,
    verdict,
)
from tests.redis_server import ThrowawayRedis

BEFORE, DOWN, AFTER = 3.0, 4.0, 4.0
QUERY = {"query": "SELECT id, name FROM items WHERE id = $1", "cacheStrategy": {"ttl": 60}}


async def drill(server: ConsoleServer, redis: ThrowawayRedis, seeded: dict) -> bool:
    load = Load()
    key = seeded["keys"][0]

    def query(n: int):
        body = json.dumps({**QUERY, "params": [n % 5 + 1]})

        async def request(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(
                "/accelerate/v1/query",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )

        return request

    def cache_status(response: httpx.Response) -> str:
        return response.json().get("info", {}).get("cacheStatus", "") if response.status_code == 200 else ""

    async def page(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(f"/o/{seeded['organization']}/", cookies={"sessionid": seeded["session"]})

    async def failed_login(client: httpx.AsyncClient) -> httpx.Response:
        form = await client.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        # The CSRF cookie is Secure in production; over loopback HTTP it is sent by hand.
        client.cookies.clear()
        return await client.post(
            "/login/",
            data={
                "username": "drill@example.com",
                "password": "not the password",
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            headers={"Cookie": f"csrftoken={form.cookies.get('csrftoken', '')}"},
        )

    def login_refused(response: httpx.Response) -> str:
        text = response.text
        return "refused" if "do not match an account" in text or "Too many failed attempts" in text else "??"

    workers = [
        *(
            asyncio.ensure_future(load.worker("query", query(n), base_url=server.url, check=cache_status))
            for n in range(4)
        ),
        *(asyncio.ensure_future(load.worker("page", page, base_url=server.url)) for _ in range(2)),
        asyncio.ensure_future(load.worker("login", failed_login, base_url=server.url, check=login_refused)),
    ]
    await asyncio.sleep(BEFORE)
    down_at = load.now()
    await asyncio.to_thread(redis.kill)
    await asyncio.sleep(DOWN)
    restart_at = load.now()
    await asyncio.to_thread(redis.start)
    await asyncio.sleep(AFTER)
    load.stop.set()
    await asyncio.gather(*workers)

    outcomes = load.outcomes
    queries = [o for o in outcomes if o.endpoint == "query"]
    before = [o for o in queries if o.started + o.latency < down_at]
    # Requests that began after the kill (the gateway notices on its next Redis call).
    during = [o for o in queries if down_at + 0.1 <= o.started and o.started + o.latency < restart_at]
    after = [o for o in queries if o.started >= restart_at + 1.5]  # the cache's pause, then a miss per key
    logins = [o for o in outcomes if o.endpoint == "login"]
    hung = [o for o in outcomes if o.status in ("hung", "transport error")]
    # A paused login is answered 429 ("Too many failed attempts"): refused, as it should be.
    not_ok = [o for o in outcomes if o.status != "200" and not (o.endpoint == "login" and o.status == "429")]

    def hits(group: list) -> str:
        counts = {status: sum(1 for o in group if o.detail == status) for status in ("ttl", "miss")}
        return f"{counts['ttl']} hits/{counts['miss']} misses"

    passed = (
        not hung
        and not not_ok
        and any(o.detail == "ttl" for o in before)
        and during
        and all(o.detail == "miss" for o in during)
        and any(o.detail == "ttl" for o in after)
        and all(o.detail == "refused" for o in logins)
        and len([o for o in logins if down_at <= o.started < restart_at]) > 0
    )
    return verdict(
        "Redis outage",
        bool(passed),
        f"{len(outcomes)} requests ({statuses(outcomes)}); gateway queries before: {hits(before)}, "
        f"Redis down {restart_at - down_at:.1f} s: {hits(during)} (p50 {percentile_ms(during, 50):.1f} ms, "
        f"p99 {percentile_ms(during, 99):.1f} ms), after it is back: {hits(after)}; "
        f"page views {statuses([o for o in outcomes if o.endpoint == 'page'])}; "
        f"wrong-password logins refused {sum(o.detail == 'refused' for o in logins)}/{len(logins)}; "
        f"hung {len(hung)}",
    )


def main() -> bool:
    redis = ThrowawayRedis()
    redis.start()
    try:
        # The users' database on a server of its own: the console refuses its own database server.
        with ThrowawayPostgres() as pg, ThrowawayPostgres() as user_pg:
            user_database = user_pg.create_database("userdb")
            import psycopg

            with psycopg.connect(user_database, autocommit=True) as conn:
                conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
                conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
            env = console_env(database_url=pg.url(), cache_url=redis.url, data_dir=pg.folder, **UNLIMITED)
            manage(env, "migrate", "--no-input")
            seeded = seed(env, user_database=user_database, keys=1)
            with ConsoleServer(env, pg.folder) as server:
                passed = asyncio.run(drill(server, redis, seeded))
                if not passed:
                    print(server.log_tail())
                return passed
    finally:
        redis.kill()


if __name__ == "__main__":
    main()
