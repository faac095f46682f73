"""Accelerate gateway: direct psycopg vs gateway miss vs gateway hit, and 1,000 clients on 10 connections.

The gateway runs under uvicorn in this process (one event loop, as one server process would);
the load comes from a separate process (bench/_loadgen.py) on loopback, so the two do not
share an interpreter. The user's database is a scratch database on the same PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time

from bench.common import scratch_database, setup_django, table, users_server_url

ROWS = 100_000
QUERY = "SELECT id, email, score FROM bench_users WHERE id = $1"


def _direct(conninfo: str, concurrency: int, requests: int) -> dict[str, float]:
    """The same query straight through psycopg (the baseline a gateway miss is compared with)."""
    import psycopg

    async def main() -> dict[str, float]:
        latencies: list[float] = []
        numbers = iter(range(requests))

        async def worker() -> None:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                cursor = psycopg.AsyncRawCursor(conn)
                for n in numbers:
                    started = time.perf_counter()
                    await cursor.execute(QUERY, [n % ROWS + 1])
                    await cursor.fetchall()
                    latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        ordered = sorted(latencies)
        return {
            "median_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
            "rps": len(ordered) / elapsed,
        }

    return asyncio.run(main())


def _load(
    port: int, key: str, bodies: list[str], concurrency: int, requests: int, timeout: float = 30
) -> dict:
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "path": "/accelerate/v1/query",
        "headers": {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        "bodies": bodies,
        "concurrency": concurrency,
        "requests": requests,
        "timeout": timeout,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench._loadgen", json.dumps(spec)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def main() -> None:
    setup_django()
    import logging

    # The per-request log line goes to stderr in production; here it would flood the terminal.
    logging.getLogger("accelerate.gateway").setLevel(logging.WARNING)
    import psycopg
    import uvicorn
    from django.db import connection
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from accelerate import services as accelerate_services
    from accelerate.gateway.app import Gateway, build_app
    from accelerate.gateway.cache import LocalQueryCache
    from accelerate.gateway.targets import TargetDirectory
    from console.audit import Actor
    from console.models import Membership, Organization, Role, User
    from dataplane.limits import TokenBuckets
    from projects import services as project_services
    from projects.models import Project
    from usage.metering import Meter

    with scratch_database():
        with psycopg.connect(users_server_url("postgres"), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_source WITH (FORCE)")
            conn.execute("CREATE DATABASE bench_source")
        source = users_server_url("bench_source")
        try:
            with psycopg.connect(source, autocommit=True) as conn:
                conn.execute("CREATE TABLE bench_users (id int PRIMARY KEY, email text, score numeric)")
                conn.execute(
                    "INSERT INTO bench_users SELECT g, 'user' || g || '@example.com', g * 1.5 "
                    "FROM generate_series(1, %s) g",
                    [ROWS],
                )
                conn.execute("ANALYZE bench_users")
            actor = Actor.command("bench")
            user = User.objects.create_user("bench@example.com", "bench-password")
            organization = Organization.objects.create(name="Bench", slug="bench")
            Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
            project = Project.objects.create(organization=organization, name="Bench")
            config = accelerate_services.accelerate_create(
                project=project,
                actor=actor,
                connection_string=source,
                region="eu-central-1",
                connection_limit=40,
            )
            _, key = project_services.api_key_create(project=project, name="bench", actor=actor)
            connection.close()

            gateway = Gateway(
                resolver=TargetDirectory().resolve,
                cache=LocalQueryCache(max_entries=200_000),
                region="bench",
                meter=Meter("accelerate"),
                # The per-key limit costs its share of every request; it is set never to refuse.
                limiter=TokenBuckets(rate=1e9, burst=10**9),
            )
            app = Starlette(routes=[Mount("/accelerate/v1", app=build_app(gateway))])
            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            uvicorn_server = uvicorn.Server(
                uvicorn.Config(
                    app, host="127.0.0.1", port=port, log_level="error", lifespan="off", access_log=False
                )
            )
            thread = threading.Thread(target=uvicorn_server.run, daemon=True)
            thread.start()
            while not uvicorn_server.started:
                time.sleep(0.01)

            miss = json.dumps({"query": QUERY, "params": ["{n}"], "cacheStrategy": {"ttl": 3600}})
            miss = miss.replace('"{n}"', "{n}")  # a number: every request asks for another row
            hit = json.dumps({"query": QUERY, "params": [42], "cacheStrategy": {"ttl": 3600}})
            _load(port, key, [hit], 1, 200)  # warm: key, configuration, pool, cache entry

            rows = []
            for concurrency, requests in ((1, 3000), (32, 20000)):
                direct = _direct(source, concurrency, requests)
                rows.append(
                    [
                        "direct psycopg",
                        concurrency,
                        f"{direct['median_ms']:.3f}",
                        f"{direct['p99_ms']:.3f}",
                        f"{direct['rps']:,.0f}",
                        "-",
                    ]
                )
                # Misses: distinct ids beyond those used before (each is a new cache key).
                offset = 1000 + concurrency * 100_000
                bodies = [miss.replace("{n}", str(offset) + "{n}")]
                for label, body_list in (("gateway miss", bodies), ("gateway hit", [hit])):
                    result = _load(port, key, body_list, concurrency, requests)
                    rows.append(
                        [
                            label,
                            concurrency,
                            f"{result['median_ms']:.3f}",
                            f"{result['p99_ms']:.3f}",
                            f"{result['rps']:,.0f}",
                            _statuses(result),
                        ]
                    )
            print(table(["path", "concurrency", "median ms", "p99 ms", "requests/s", "answers"], rows))

            # 1,000 clients at once on a connection limit of 10: every one answered or P6004, none hung.
            accelerate_services.accelerate_update(
                config=config,
                actor=actor,
                connection_string=None,
                region="eu-central-1",
                connection_limit=10,
                pool_timeout_seconds=5,
            )
            connection.close()
            time.sleep(1.1)  # the gateway re-reads the configuration (GATEWAY_CONFIG_TTL)
            slow = json.dumps({"query": "SELECT pg_sleep(0.02), $1::int AS n", "params": ["{n}"]}).replace(
                '"{n}"', "{n}"
            )
            result = _load(port, key, [slow], 1000, 1000, timeout=60)
            print()
            print(
                table(
                    ["clients", "connection limit", "pool timeout s", "answers", "median ms", "p99 ms"],
                    [
                        [
                            1000,
                            10,
                            5,
                            _statuses(result),
                            f"{result['median_ms']:.0f}",
                            f"{result['p99_ms']:.0f}",
                        ]
                    ],
                )
            )
            uvicorn_server.should_exit = True
            thread.join(10)
            del config
        finally:
            with psycopg.connect(users_server_url("postgres"), autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS bench_source WITH (FORCE)")


def _statuses(result: dict) -> str:
    return ", ".join(f"{count} × {status}" for status, count in sorted(result["statuses"].items()))
