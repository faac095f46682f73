"""Load: console page views, API key creation and gateway queries at once, on one machine.

One production console process (uvicorn, `config.asgi`: the console and the data plane in one
event loop, as one server process runs) on a throwaway PostgreSQL cluster (the console's database
and the user's database behind Accelerate) and a throwaway Redis (CACHE_URL), with the default
limits. For ``DURATION`` seconds, closed-loop clients on loopback:

- 6 signed-in browsers-worth of page views (overview, project dashboard, API keys, Accelerate tab, usage);
- 1 client creating API keys as fast as it can (the per-user limit, 30 per 10 minutes, answers 429);
- 8 gateway clients on 4 keys: cached queries (hits) and uncached ones (a query each time);
- 20 Pulse stream subscribers (one key) on a table a writer inserts a row into every 20 ms, captured
  by a `manage.py pulseworker` process: each delivered event is a row, its latency from the
  row's commit to the subscriber; a gap in a subscriber's event ids counts as an error.

It prints one row per endpoint: requests, throughput, p50/p99 latency, answers that are the
intended rate limits, and errors (anything else that is not a success). It passes when there
are no errors. The same scenario run with `python -m bench load` prints the same table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from collections import defaultdict

import httpx

from bench.common import table
from bench.drills._harness import (
    ConsoleServer,
    Load,
    Outcome,
    ThrowawayPostgres,
    console_env,
    manage,
    percentile_ms,
    seed,
    verdict,
)
from bench.drills._pulse import start_pulseworker
from tests.redis_server import ThrowawayRedis

DURATION = 15.0
PAGE_CLIENTS = 6
GATEWAY_CLIENTS = 8
GATEWAY_KEYS = 4
STREAM_SUBSCRIBERS = 20
WRITES_PER_SECOND = 50


async def scenario(server: ConsoleServer, seeded: dict) -> list[Outcome]:
    load = Load()
    org, project = seeded["organization"], seeded["project"]
    session = {"Cookie": f"sessionid={seeded['session']}"}
    pages = {
        "GET overview": f"/o/{org}/",
        "GET project dashboard": f"/o/{org}/projects/{project}/",
        "GET API keys": f"/o/{org}/projects/{project}/settings/api-keys/",
        "GET Accelerate tab": f"/o/{org}/projects/{project}/accelerate/",
        "GET usage": f"/o/{org}/usage/",
    }
    page_list = list(pages.items())

    def page_worker(n: int):
        async def run() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                index = n
                while not load.stop.is_set():
                    name, path = page_list[index % len(page_list)]
                    index += 1
                    started = load.now()
                    try:
                        status = str((await client.get(path, headers=session)).status_code)
                    except httpx.HTTPError as error:
                        status = type(error).__name__
                    load.outcomes.append(Outcome(name, started, load.now() - started, status))

        return run()

    async def key_creator() -> None:
        create = f"/o/{org}/projects/{project}/settings/api-keys/new/"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            form = await client.get(create, headers=session)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
            # The session and CSRF cookies are Secure in production: over loopback HTTP, sent by hand.
            headers = {
                "Cookie": f"sessionid={seeded['session']}; csrftoken={form.cookies.get('csrftoken', '')}",
                "X-CSRFToken": token.group(1) if token else "",
                "HX-Request": "true",
            }
            client.cookies.clear()
            n = 0
            while not load.stop.is_set():
                n += 1
                started = load.now()
                try:
                    response = await client.post(create, data={"name": f"load {n}"}, headers=headers)
                    status = str(response.status_code)
                    if status == "200" and "dpk_" not in response.text:
                        status = "200 without a key"
                except httpx.HTTPError as error:
                    status = type(error).__name__
                load.outcomes.append(Outcome("POST create API key", started, load.now() - started, status))
                client.cookies.clear()

    def gateway_worker(n: int, cached: bool):
        key = seeded["keys"][n % GATEWAY_KEYS]
        name = "POST /accelerate/v1/query " + ("(cached)" if cached else "(uncached)")

        async def request(client: httpx.AsyncClient) -> httpx.Response:
            body: dict = {"query": "SELECT id, name FROM items WHERE id = $1", "params": [n % 50 + 1]}
            if cached:
                body["cacheStrategy"] = {"ttl": 60}
            return await client.post(
                "/accelerate/v1/query",
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )

        def code(response: httpx.Response) -> str:
            return "" if response.status_code == 200 else str(response.json()["error"]["code"])

        return load.worker(name, request, base_url=server.url, check=code, timeout=30)

    async def subscriber() -> None:
        name = "GET /pulse/v1/stream (events)"
        headers = {"Authorization": f"Bearer {seeded['keys'][0]}"}
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            started = load.now()
            try:
                async with client.stream("GET", "/pulse/v1/stream?model=feed", headers=headers) as response:
                    if response.status_code != 200:
                        load.outcomes.append(Outcome(name, started, 0.0, str(response.status_code)))
                        return
                    last = None
                    async for line in response.aiter_lines():
                        if load.stop.is_set():
                            return
                        if not line.startswith("data: "):
                            continue
                        event = json.loads(line[6:])
                        committed = dt.datetime.fromisoformat(event["committedAt"]).timestamp()
                        status = "200" if last is None or event["id"] == last + 1 else "gap"
                        last = event["id"]
                        load.outcomes.append(Outcome(name, load.now(), time.time() - committed, status))
            except httpx.HTTPError as error:
                load.outcomes.append(Outcome(name, started, load.now() - started, type(error).__name__))

    async def writer() -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(seeded["user_database"], autocommit=True) as conn:
            while not load.stop.is_set():
                await conn.execute("INSERT INTO feed (note) VALUES ('load')")
                await asyncio.sleep(1 / WRITES_PER_SECOND)

    tasks = [
        *(asyncio.ensure_future(page_worker(n)) for n in range(PAGE_CLIENTS)),
        asyncio.ensure_future(key_creator()),
        *(asyncio.ensure_future(gateway_worker(n, cached=n % 2 == 0)) for n in range(GATEWAY_CLIENTS)),
        *(asyncio.ensure_future(subscriber()) for _ in range(STREAM_SUBSCRIBERS)),
        asyncio.ensure_future(writer()),
    ]
    await asyncio.sleep(DURATION)
    load.stop.set()
    await asyncio.gather(*tasks)
    return load.outcomes


def intended_limit(outcome: Outcome) -> bool:
    return outcome.status == "429" and (
        outcome.endpoint == "POST create API key" or outcome.detail == "P6003"
    )


def report(outcomes: list[Outcome], elapsed: float) -> bool:
    by_endpoint: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_endpoint[outcome.endpoint].append(outcome)
    rows, errors = [], 0
    for endpoint in sorted(by_endpoint):
        group = by_endpoint[endpoint]
        ok = [o for o in group if o.status == "200"]
        limited = [o for o in group if intended_limit(o)]
        failed = [o for o in group if o.status != "200" and not intended_limit(o)]
        errors += len(failed)
        rows.append(
            [
                endpoint,
                len(group),
                f"{len(group) / elapsed:,.1f}",
                f"{percentile_ms(ok, 50):.1f}",
                f"{percentile_ms(ok, 99):.1f}",
                len(limited),
                f"{len(failed)} ({100 * len(failed) / len(group):.2f}%)",
            ]
        )
    total = len(outcomes)
    rows.append(["all", total, f"{total / elapsed:,.1f}", "", "", sum(map(intended_limit, outcomes)), errors])
    print(
        table(
            ["endpoint", "requests", "per second", "p50 ms", "p99 ms", "rate-limited (429)", "errors"], rows
        )
    )
    return verdict(
        "load",
        errors == 0,
        f"{total} requests in {elapsed:.1f} s, {errors} errors besides the intended rate limits",
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
                conn.execute("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g")
                conn.execute("CREATE TABLE feed (id serial PRIMARY KEY, note text)")
            env = console_env(database_url=pg.url(), cache_url=redis.url, data_dir=pg.folder)
            manage(env, "migrate", "--no-input")
            seeded = seed(
                env,
                user_database=user_database,
                pulse_database=user_database,
                keys=GATEWAY_KEYS,
                connection_limit=10,
            )
            seeded["user_database"] = user_database
            worker = start_pulseworker(env)
            with ConsoleServer(env, pg.folder) as server:
                started = time.monotonic()
                outcomes = asyncio.run(scenario(server, seeded))
                passed = report(outcomes, time.monotonic() - started)
                if not passed:
                    print(server.log_tail())
                return passed
    finally:
        if "worker" in locals():
            worker.terminate()
            worker.wait(15)
        redis.kill()


if __name__ == "__main__":
    main()
