"""Drill: the user's database (behind Accelerate) restarts during gateway load.

A production console process serves uncached gateway queries from 8 clients against a throwaway
"user" PostgreSQL cluster (the console's own database is another throwaway cluster). The user's
cluster is stopped (fast shutdown) for 3 s and started again on the same port. Passes when every
request is answered well inside the pool and query timeouts (none hangs), every failure is a
JSON P6008 (database connection error) or P6004, and queries succeed again within 5 s of the
database being back.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from bench.drills._harness import (
    UNLIMITED,
    ConsoleServer,
    Load,
    ThrowawayPostgres,
    console_env,
    manage,
    percentile_ms,
    recovery_seconds,
    seed,
    statuses,
    verdict,
)

CLIENTS = 8
BEFORE, DOWN, AFTER = 3.0, 3.0, 6.0
RECOVERY_LIMIT = 5.0
POOL_TIMEOUT = 5  # seconds (the configuration's pool timeout); the query timeout is 5 s too


async def drill(server: ConsoleServer, user_pg: ThrowawayPostgres, key: str) -> bool:
    load = Load()

    def query(n: int):
        body = json.dumps({"query": "SELECT id, name FROM items WHERE id = $1", "params": [n % 5 + 1]})

        async def request(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(
                "/accelerate/v1/query",
                content=body,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )

        return request

    def error_code(response: httpx.Response) -> str:
        if response.status_code == 200:
            return ""
        try:
            return str(response.json()["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return "not JSON"

    workers = [
        asyncio.ensure_future(
            load.worker(
                "query", query(n), base_url=server.url, check=error_code, timeout=2 * POOL_TIMEOUT + 5
            )
        )
        for n in range(CLIENTS)
    ]
    await asyncio.sleep(BEFORE)
    down_at = load.now()
    await asyncio.to_thread(user_pg.stop)
    stopped_at = load.now()
    await asyncio.sleep(DOWN)
    restart_at = load.now()
    await asyncio.to_thread(user_pg.start)
    back_at = load.now()
    await asyncio.sleep(AFTER)
    load.stop.set()
    await asyncio.gather(*workers)

    outcomes = load.outcomes
    before = [o for o in outcomes if o.started + o.latency < down_at]
    during = [o for o in outcomes if stopped_at <= o.started < restart_at]
    failures = [o for o in outcomes if o.status != "200"]
    hung = [o for o in outcomes if o.status in ("hung", "transport error")]
    unexpected = [o for o in failures if o.detail not in ("P6008", "P6004")]
    slowest = max((o.latency for o in outcomes), default=0.0)
    recovered = recovery_seconds(outcomes, back_at, lambda o: o.status == "200")
    codes = ", ".join(sorted({f"{o.status} {o.detail}" for o in failures})) or "none"
    passed = (
        not hung
        and not unexpected
        and all(o.status == "200" for o in before)
        and any(o.detail == "P6008" for o in during)
        and slowest < POOL_TIMEOUT * 2 + 1
        and recovered is not None
        and recovered <= RECOVERY_LIMIT
    )
    return verdict(
        "user database restart during gateway load",
        passed,
        f"{len(outcomes)} queries from {CLIENTS} clients ({statuses(outcomes)}; failures: {codes}); "
        f"database down {restart_at - down_at:.1f} s: {statuses(during)}, "
        f"p50 {percentile_ms(during, 50):.1f} ms, p99 {percentile_ms(during, 99):.1f} ms; slowest answer "
        f"{slowest * 1000:.0f} ms; all 200 again "
        + (f"{recovered:.2f} s after it was back" if recovered is not None else "never")
        + f"; hung {len(hung)}",
    )


def main() -> bool:
    with ThrowawayPostgres() as console_pg, ThrowawayPostgres() as user_pg:
        user_database = user_pg.create_database("userdb")
        import psycopg

        with psycopg.connect(user_database, autocommit=True) as conn:
            conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g")
        env = console_env(database_url=console_pg.url(), data_dir=console_pg.folder, **UNLIMITED)
        manage(env, "migrate", "--no-input")
        seeded = seed(env, user_database=user_database, keys=1, connection_limit=5, pool_timeout=POOL_TIMEOUT)
        with ConsoleServer(env, console_pg.folder) as server:
            passed = asyncio.run(drill(server, user_pg, seeded["keys"][0]))
            if not passed:
                print(server.log_tail())
            return passed


if __name__ == "__main__":
    main()
