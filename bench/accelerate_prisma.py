"""Prisma Client 7.10 `findUnique` by primary key through Accelerate, at concurrency 1 and 32.

Rows, in one run, on the same database and query:

- straight to PostgreSQL (adapter-pg): the reference;
- the executor sidecar alone (accelerate/executor over its Unix socket, on the read-only connections
  a cache miss uses): what the gateway's overhead is measured against;
- through the gateway without a cacheStrategy (forwarded every time), with cache misses
  (cacheStrategy {ttl: 600}, no id asked twice) and with cache hits (500 ids asked again and again);
- the same hits through Node's built-in fetch, which the client uses by default;
- an instant HTTP server that answers without doing anything: what the client itself costs;
- the gateway's capacity for hits: the client's own hit request (captured from it) replayed by the
  lean load generator (bench/_loadgen.py), since one Node process cannot send more.

The gateway runs as `make run` starts it: a `uvicorn config.asgi:application` process (production
mode, on a scratch console database, its per-request log line on) and the sidecar process; the
sidecar-alone rows use the executor the gateway set up (same pool of 10 connections as the direct
client's). Every HTTP row uses the same client code (Node's http, keep-alive) unless it says
otherwise, and each query leaves the client on its own (no client-side batching). The cache status
of every gateway answer is counted from the gateway's own log. The user database is a scratch
`bench_prisma` on the console's PostgreSQL (tests/prisma/schema.sql, 40,000 users).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import scratch_database, setup_django, table

USERS = 40_000
POOL = 10
RUNS = ((1, 3000), (32, 10000))  # (concurrency, measured requests)
CAPACITY_REQUESTS = 20000
WARMUP = 500
HOT_IDS = 500  # the hit rows ask these ids only (all cached by their warm-up)

INSTANT_USER = {
    "email": "instant@example.com",
    "name": "Instant",
    "role": "USER",
    "createdAt": {"$type": "DateTime", "value": "2026-01-01T00:00:00.000Z"},
    "profile": None,
    "mentorId": None,
}


async def instant_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers Prisma Client's connection-info and findUnique at once, doing nothing: the floor
    of any server, i.e. what the client itself costs (served by uvicorn like the gateway)."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/connection-info":
        answer = b'{"provider":"postgres","connectionInfo":{"supportsRelationJoins":true}}'
    else:
        answer = json.dumps({"data": {"id": json.loads(body)["params"]["%1"], **INSTANT_USER}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"accelerate-cache-status", b"ttl")],
        }
    )
    await send({"type": "http.response.body", "body": answer})


def _node(*args: str) -> str:
    from tests.accelerate.executor_sidecar import PRISMA_DIR

    result = subprocess.run(
        ["node", "findunique-bench.mjs", *args], cwd=PRISMA_DIR, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"findunique-bench.mjs {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def _load(target_args: list[str], concurrency: int, requests: int) -> dict[str, Any]:
    out = _node(
        *target_args,
        "--concurrency",
        str(concurrency),
        "--requests",
        str(requests),
        "--warmup",
        str(WARMUP),
    )
    return dict(json.loads(out))


def _project(source: str) -> str:
    """A project with Accelerate on ``source`` (pool of POOL), and its key."""
    from accelerate import services as accelerate_services
    from console.audit import Actor
    from console.models import Membership, Organization, Role, User
    from projects import services as project_services
    from projects.models import Project

    actor = Actor.command("bench")
    user = User.objects.create_user("bench@example.com", "bench-password")
    organization = Organization.objects.create(name="Bench", slug="bench")
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    project = Project.objects.create(organization=organization, name="Bench")
    accelerate_services.accelerate_create(
        project=project, actor=actor, connection_string=source, region="eu-central-1", connection_limit=POOL
    )
    _, key = project_services.api_key_create(project=project, name="bench", actor=actor)
    return key


class CacheLog:
    """The cache statuses the gateway logged since the last call (its one line per request)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen = 0

    def since(self) -> Counter[str]:
        data = self.path.read_bytes()
        new, self.seen = data[self.seen :].decode(errors="replace"), len(data)
        counts: Counter[str] = Counter()
        for status, rest in re.findall(r"path=/query status=(\d+)([^\n]*)", new):
            cache = re.search(r" cache=(\w+)", rest)
            counts[cache.group(1) if status == "200" and cache else f"HTTP {status}"] += 1
        return counts


def _capacity(port: int, request: dict[str, Any], concurrency: int, requests: int) -> dict[str, Any]:
    """The client's hit request for each hot id, replayed by bench/_loadgen.py."""
    headers = {k: v for k, v in request["headers"].items() if k.lower() not in ("content-length", "host")}
    bodies = [
        re.sub(r'"params":\{"%1":\d+\}', f'"params":{{"%1":{user_id}}}', request["body"])
        for user_id in range(1, HOT_IDS + 1)
    ]
    spec = {
        "host": "127.0.0.1",
        "port": port,
        "path": request["path"],
        "headers": headers,
        "bodies": bodies,
        "concurrency": concurrency,
        "requests": requests,
        "timeout": 30,
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench._loadgen"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def _row(label: str, concurrency: int, result: dict[str, Any], statuses: Counter[str] | None) -> list[object]:
    shown = ", ".join(f"{name} {count}" for name, count in sorted((statuses or {}).items()))
    return [
        label,
        concurrency,
        f"{result['median_ms']:.3f}",
        f"{result['p99_ms']:.3f}",
        f"{result['rps']:,.0f}",
        shown,
    ]


def main() -> bool | None:
    setup_django()
    import logging

    import httpx
    import psycopg
    from django.db import connection

    from tests.accelerate.console_processes import Child, SidecarProcess, WebProcess, console_env, free_port
    from tests.accelerate.executor_sidecar import missing_node_tools

    logging.getLogger("httpx").setLevel(logging.WARNING)
    missing = missing_node_tools()
    if missing:
        print(f"not run: {missing}")
        return False
    load_before = os.getloadavg()[0]

    params = connection.get_connection_params()
    password = f":{params['password']}" if params.get("password") else ""
    server = f"postgresql://{params['user']}{password}@{params['host']}:{params['port']}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_prisma WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_prisma")
    source = f"{server}/bench_prisma"
    folder = Path(tempfile.mkdtemp(prefix="dpc-bench-", dir="/tmp"))
    processes: list[Child] = []
    try:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute((Path(__file__).resolve().parents[1] / "tests/prisma/schema.sql").read_text())
            conn.execute(
                "INSERT INTO users (email, name, created_at) "
                "SELECT 'user' || g || '@example.com', 'User ' || g, now() FROM generate_series(1, %s) g",
                [USERS],
            )
            conn.execute("ANALYZE users")
        with scratch_database():
            key = _project(source)
            env = console_env(
                socket_path=folder / "executor.sock",
                GATEWAY_RATE_LIMIT_PER_SECOND="1000000000",  # the per-key limit must never answer here
                GATEWAY_RATE_LIMIT_BURST="1000000000",
                GATEWAY_CACHE_MAX_ENTRIES="100000",
            )
            connection.close()
            sidecar = SidecarProcess(folder / "executor.sock", env=env).start()
            processes.append(sidecar)
            web = WebProcess(env=env, log_dir=folder).start()
            processes.append(web)
            instant_port = free_port()
            instant = Child(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.accelerate_prisma:instant_app",
                    "--port",
                    str(instant_port),
                    "--log-level",
                    "warning",
                ],
                env=env,
                log_path=folder / "instant.log",
            )
            instant.process = subprocess.Popen(
                instant.command, cwd=Path(__file__).resolve().parents[1], env=env
            )
            processes.append(instant)
            url = web.accelerate_url(key)
            # One request through the gateway sets its executor up; the sidecar-alone rows use it too.
            _load(["--target", "accelerate", "--accelerate-url", url], 1, 1)
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(sidecar.socket_path))) as client:
                [executor] = [
                    entry["id"] for entry in client.get("http://sidecar/executors").json()["executors"]
                ]
            hit_request = json.loads(
                _node("--target", "accelerate", "--accelerate-url", url, "--ttl", "600", "--print-request")
            )
            for _ in range(50):  # the instant server is up
                try:
                    httpx.get(f"http://127.0.0.1:{instant_port}/connection-info", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)

            node_http = ["--fetch", "node-http"]
            direct = [
                "--target",
                "direct",
                "--database-url",
                source,
                "--pool",
                str(POOL),
                "--ids",
                str(USERS),
            ]
            alone = [
                *["--target", "sidecar", "--socket", str(sidecar.socket_path), "--executor", executor],
                *["--read-only", "--ids", str(USERS)],
            ]
            gateway = ["--target", "accelerate", "--accelerate-url", url]
            instant_url = f"prisma+postgres://127.0.0.1:{instant_port}/?api_key=bench"
            log = CacheLog(web.log_path)
            log.since()
            rows: list[list[object]] = []
            offset = 0  # the miss rows never ask an id twice
            for concurrency, requests in RUNS:
                fresh = ["--ids", str(WARMUP + requests), "--id-offset", str(offset)]
                offset += WARMUP + requests
                hot = ["--ids", str(HOT_IDS), "--ttl", "600"]
                runs: list[tuple[str, list[str], bool]] = [
                    ("Prisma -> PostgreSQL (adapter-pg)", direct, False),
                    ("Prisma -> sidecar alone", alone, False),
                    (
                        "Prisma -> gateway, no cacheStrategy",
                        [*gateway, *node_http, "--ids", str(USERS)],
                        True,
                    ),
                    ("Prisma -> gateway, miss", [*gateway, *node_http, *fresh, "--ttl", "600"], True),
                    ("Prisma -> gateway, hit", [*gateway, *node_http, *hot], True),
                    ("Prisma -> gateway, hit (built-in fetch)", [*gateway, *hot], True),
                    (
                        "Prisma -> instant server (client floor)",
                        [
                            "--target",
                            "accelerate",
                            "--accelerate-url",
                            instant_url,
                            *node_http,
                            "--ids",
                            str(USERS),
                        ],
                        False,
                    ),
                ]
                medians = {}
                for label, args, logged in runs:
                    result = _load(args, concurrency, requests)
                    statuses = log.since() if logged else None
                    medians[label] = result["median_ms"]
                    rows.append(_row(label, concurrency, result, statuses))
                alone_ms = medians["Prisma -> sidecar alone"]
                for label in ("Prisma -> gateway, no cacheStrategy", "Prisma -> gateway, miss"):
                    added = f"{medians[label] - alone_ms:+.3f}"
                    rows.append([f"  {label[10:]} - sidecar alone", concurrency, added, "", "", ""])
                ratio = medians["Prisma -> gateway, hit"] / medians["Prisma -> PostgreSQL (adapter-pg)"]
                rows.append(["  gateway hit / direct", concurrency, f"{ratio:.2f}x", "", "", ""])
            capacity = _capacity(web.port, hit_request, 32, CAPACITY_REQUESTS)
            rows.append(_row("hit request replayed (bench/_loadgen.py)", 32, capacity, log.since()))
            print(
                table(
                    ["path", "concurrency", "median ms", "p99 ms", "requests/s", "gateway's cache status"],
                    rows,
                )
            )
            print(
                f"   ({USERS:,} users; pool {POOL} everywhere; requests per run: {dict(RUNS)}, "
                f"replayed: {CAPACITY_REQUESTS:,}; load average (1 min) before {load_before:.1f}, "
                f"after {os.getloadavg()[0]:.1f})"
            )
        return None
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_prisma WITH (FORCE)")


if __name__ == "__main__":
    main()
