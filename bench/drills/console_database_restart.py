"""Drill: the console's own database restarts while people use the console.

A production console process (uvicorn, `config.asgi`) on a throwaway PostgreSQL cluster serves
signed-in page views from 8 clients; the cluster is stopped (fast shutdown) for 3 s and started
again on the same port. Passes when every request is answered (none hangs), every answer is
200 or the console's 503 + Retry-After, and everything is 200 again within 5 s of the database
being back.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from bench.drills._harness import (
    ConsoleServer,
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


async def drill(server: ConsoleServer, pg: ThrowawayPostgres, seeded: dict) -> bool:
    from bench.drills._harness import Load

    load = Load()
    cookies = {"sessionid": seeded["session"]}
    pages = [f"/o/{seeded['organization']}/", f"/o/{seeded['organization']}/projects/{seeded['project']}/"]

    def page(path: str):
        async def request(client: httpx.AsyncClient) -> httpx.Response:
            return await client.get(path, cookies=cookies)

        return request

    def check(response: httpx.Response) -> str:
        if response.status_code == 503 and response.headers.get("Retry-After") != "5":
            return "503 without Retry-After"
        return ""

    workers = [
        asyncio.ensure_future(load.worker("page", page(pages[n % 2]), base_url=server.url, check=check))
        for n in range(CLIENTS)
    ]
    await asyncio.sleep(BEFORE)
    down_at = load.now()
    await asyncio.to_thread(pg.stop)
    stopped_at = load.now()
    await asyncio.sleep(DOWN)
    restart_at = load.now()
    await asyncio.to_thread(pg.start)
    back_at = load.now()
    await asyncio.sleep(AFTER)
    load.stop.set()
    await asyncio.gather(*workers)

    outcomes = load.outcomes
    before = [o for o in outcomes if o.started + o.latency < down_at]
    during = [o for o in outcomes if stopped_at <= o.started < restart_at]
    hung = [o for o in outcomes if o.status in ("hung", "transport error")]
    unexpected = [o for o in outcomes if o.status not in ("200", "503") or o.detail]
    recovered = recovery_seconds(outcomes, back_at, lambda o: o.status == "200")
    passed = (
        not hung
        and not unexpected
        and all(o.status == "200" for o in before)
        and any(o.status == "503" for o in during)
        and recovered is not None
        and recovered <= RECOVERY_LIMIT
    )
    return verdict(
        "console database restart",
        passed,
        f"{len(outcomes)} page views from {CLIENTS} clients ({statuses(outcomes)}); "
        f"before: {statuses(before)}; database down {restart_at - down_at:.1f} s: {statuses(during)}, "
        f"p99 {percentile_ms(during, 99):.0f} ms; all 200 again "
        + (
            f"{recovered:.2f} s after it was back ({back_at - restart_at:.2f} s to start)"
            if recovered is not None
            else "never"
        )
        + f"; hung {len(hung)}",
    )


def main() -> bool:
    with ThrowawayPostgres() as pg:
        env = console_env(database_url=pg.url(), data_dir=pg.folder)
        manage(env, "migrate", "--no-input")
        seeded = seed(env)
        with ConsoleServer(env, pg.folder) as server:
            started = time.monotonic()
            passed = asyncio.run(drill(server, pg, seeded))
            if not passed:
                print(server.log_tail())
            print(f"   drill took {time.monotonic() - started:.1f} s")
            return passed


if __name__ == "__main__":
    main()
