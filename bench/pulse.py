"""Pulse: capture rate (changes/s) and commit-to-subscriber latency through the stream endpoint.

Everything runs as it would in production, on this machine's two cores: the capture worker
is a `manage.py pulseworker` process, the stream endpoint the data plane under uvicorn in
another process, the source database a scratch database on the embedded demo server, and
the console database the benchmark's scratch database on the console's own embedded server.

- Capture rate: a backlog of changes is written while no worker runs, then a worker starts;
  the rate is events logged per second from the first to the last (what the worker sustains).
- Latency: a writer commits single-row transactions at a steady 500/s; subscribers (asyncio
  sockets in this process) stamp each event on arrival; latency = arrival - commit returned.
  After the writer stops, the run waits (at most ``DRAIN_LIMIT`` seconds) until every committed
  row reached every subscriber, so a late row is told apart from a lost one: the table says how
  long after the writer stopped the last one arrived, and names any row that never did (with
  how many subscribers missed it) and any delivered twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.common import percentile, scratch_database, setup_django, table, users_server_url

ROW_ID = re.compile(rb'"created": \{"id": "?(\d+)')  # bigint: a string in JSON
RATE = 500  # commits per second in the latency runs
SECONDS = 10
DRAIN_LIMIT = 30.0  # seconds to wait, after the writer stopped, for the last rows to arrive


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _logged(connection: Any) -> int:
    from pulse.models import PulseEvent

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {PulseEvent._meta.db_table}")  # noqa: S608
        return int(cursor.fetchone()[0])


def _capture_rate(connection: Any, start_worker: Any, expected: int) -> tuple[float, Any]:
    """Start a worker on the backlog; changes/s from its first logged event to the last."""
    before = _logged(connection)
    worker = start_worker()
    first_at = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        count = _logged(connection) - before
        now = time.monotonic()
        if count and first_at is None:
            first_at, first_count = now, count
        if count >= expected:
            assert first_at is not None
            return (count - first_count) / max(now - first_at, 1e-9), worker
        time.sleep(0.05)
    raise RuntimeError(f"the worker logged {count} of {expected} changes in 300 s")


def _write_steady(source: str, start_id: int, committed: dict[int, float], stop: threading.Event) -> None:
    import psycopg

    with psycopg.connect(source, autocommit=True) as conn:
        started = time.monotonic()
        n = 0
        while not stop.is_set():
            row_id = start_id + n
            conn.execute("INSERT INTO bench_rows (id, note) VALUES (%s, 'steady')", [row_id])
            committed[row_id] = time.monotonic()
            n += 1
            delay = started + n / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)


class Subscriber:
    """What one subscriber received: the arrival time of each row (the first, if it came twice)."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.duplicates: list[int] = []
        self.ended = False  # the server closed the stream


async def _subscribe(
    port: int, key: str, subscribers: list[Subscriber], ready: asyncio.Event, stop: asyncio.Event
) -> None:
    connected = 0

    async def one(subscriber: Subscriber) -> None:
        nonlocal connected
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /pulse/v1/stream?model=bench_rows HTTP/1.1\r\nHost: bench\r\n"
            f"Authorization: Bearer {key}\r\n\r\n".encode()
        )
        await writer.drain()
        seen = b""
        while b": connected" not in seen:
            seen += await reader.read(65536)
        connected += 1
        if connected == len(subscribers):
            ready.set()
        buffer = b""
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(reader.read(262144), 0.5)
            except TimeoutError:
                continue
            if not chunk:
                subscriber.ended = True
                return
            now = time.monotonic()
            buffer += chunk
            *complete, buffer = buffer.split(b"\n\n")
            for frame in complete:
                match = ROW_ID.search(frame)
                if match:
                    row = int(match.group(1))
                    if row in subscriber.arrived:
                        subscriber.duplicates.append(row)
                    else:
                        subscriber.arrived[row] = now
        writer.close()

    await asyncio.gather(*(one(subscriber) for subscriber in subscribers))


@dataclass
class LatencyRun:
    p50_ms: float
    p99_ms: float
    max_ms: float
    committed: int
    drained_after: float | None  # seconds after the writer stopped until the last row arrived
    missing: dict[int, int]  # row id -> for how many subscribers it never arrived
    duplicated: int
    ended: int  # subscribers whose stream the server closed


def _latency(port: int, key: str, source: str, count: int, start_id: int) -> LatencyRun:
    subscribers = [Subscriber() for _ in range(count)]
    committed: dict[int, float] = {}
    drained_after: list[float] = []

    def complete() -> bool:
        return all(len(s.arrived) >= len(committed) for s in subscribers)

    async def run() -> None:
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.ensure_future(_subscribe(port, key, subscribers, ready, stop))
        await asyncio.wait_for(ready.wait(), 30)
        halt = threading.Event()
        writer = threading.Thread(target=_write_steady, args=(source, start_id, committed, halt))
        writer.start()
        await asyncio.sleep(SECONDS)
        halt.set()
        await asyncio.to_thread(writer.join)
        stopped = time.monotonic()
        # Bounded wait for the last rows: late is not lost.
        while time.monotonic() - stopped < DRAIN_LIMIT and not complete():
            await asyncio.sleep(0.05)
        if complete():
            last = max((max(s.arrived.values(), default=stopped) for s in subscribers), default=stopped)
            drained_after.append(max(0.0, last - stopped))
        stop.set()
        await task

    asyncio.run(run())
    latencies = [
        arrived - committed[row]
        for s in subscribers
        for row, arrived in s.arrived.items()
        if row in committed
    ]
    missing: dict[int, int] = {}
    for s in subscribers:
        for row in committed.keys() - s.arrived.keys():
            missing[row] = missing.get(row, 0) + 1
    return LatencyRun(
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        committed=len(committed),
        drained_after=drained_after[0] if drained_after else None,
        missing=missing,
        duplicated=sum(len(s.duplicates) for s in subscribers),
        ended=sum(s.ended for s in subscribers),
    )


def _describe_missing(missing: dict[int, int]) -> str:
    """The rows that never arrived, with for how many subscribers, e.g. "3 row(s) never arrived:
    200117 (2 subscribers), 200118 (2), 200450 (100)" (at most ten named)."""
    rows = sorted(missing)
    named = ", ".join(
        f"{row} ({missing[row]}{' subscribers' if i == 0 else ''})" for i, row in enumerate(rows[:10])
    )
    more = f", and {len(rows) - 10} more" if len(rows) > 10 else ""
    return f"{len(rows)} row(s) never arrived: {named}{more}"


def main() -> None:
    setup_django()
    import psycopg
    from django.conf import settings
    from django.db import connection

    from console.audit import Actor
    from console.models import Membership, Organization, Role, User
    from projects import services as project_services
    from projects.models import Project
    from pulse import services as pulse_services

    processes: list[subprocess.Popen[bytes]] = []
    with scratch_database():
        with psycopg.connect(users_server_url("postgres"), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_pulse_source WITH (FORCE)")
            conn.execute("CREATE DATABASE bench_pulse_source")
        source = users_server_url("bench_pulse_source")
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "SECRET_KEY": settings.SECRET_KEY,
            "SECRET_ENCRYPTION_KEYS": ",".join(settings.SECRET_ENCRYPTION_KEYS),
            "ALLOW_PRIVATE_DATABASE_HOSTS": "true",
            "LOG_LEVEL": "WARNING",
        }

        def start_worker() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(
                [sys.executable, str(settings.BASE_DIR / "manage.py"), "pulseworker"],
                env=env,
                cwd=settings.BASE_DIR,
                stdout=subprocess.DEVNULL,
            )
            processes.append(process)
            return process

        try:
            with psycopg.connect(source, autocommit=True) as conn:
                conn.execute("CREATE TABLE bench_rows (id bigint PRIMARY KEY, note text, amount numeric)")
            actor = Actor.command("bench")
            user = User.objects.create_user("bench@example.com", "bench-password")
            organization = Organization.objects.create(name="Bench", slug="bench")
            Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
            project = Project.objects.create(organization=organization, name="Bench")
            _, key = project_services.api_key_create(project=project, name="bench", actor=actor)
            connection.close()  # creating the slot waits for open transactions
            pulse_services.pulse_enable(
                project=project, connection_string=source, region="eu-central-1", tables=[], actor=actor
            )
            rows = []

            # 1,000-row transactions: 100,000 changes.
            with psycopg.connect(source, autocommit=True) as conn:
                for start in range(0, 100_000, 1000):
                    conn.execute(
                        "INSERT INTO bench_rows SELECT g, 'bulk', g * 1.5 "
                        "FROM generate_series(%s::bigint, %s) g",
                        [start, start + 999],
                    )
            rate, worker = _capture_rate(connection, start_worker, 100_000)
            rows.append(["capture, 1,000-row transactions", "100,000 changes", f"{rate:,.0f} changes/s"])
            worker.terminate()
            worker.wait(30)

            # Single-row transactions: 20,000 commits; the source's own commit rate for comparison.
            with psycopg.connect(source, autocommit=True) as conn:
                started = time.perf_counter()
                for row_id in range(100_000, 120_000):
                    conn.execute("INSERT INTO bench_rows (id, note) VALUES (%s, 'single')", [row_id])
                commit_rate = 20_000 / (time.perf_counter() - started)
            rate, worker = _capture_rate(connection, start_worker, 20_000)
            rows.append(["capture, single-row transactions", "20,000 commits", f"{rate:,.0f} changes/s"])
            rows.append(
                ["(source commit rate, one connection)", "20,000 commits", f"{commit_rate:,.0f} commits/s"]
            )

            # Latency through the data plane, with the worker still running.
            port = _free_port()
            web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "config.asgi:application",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                env=env,
                cwd=settings.BASE_DIR,
            )
            processes.append(web)
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            next_id = 200_000
            deliveries = []
            for subscribers in (1, 100):
                run = _latency(port, key, source, subscribers, next_id)
                next_id += 100_000
                rows.append(
                    [
                        f"commit → subscriber, {RATE}/s, {subscribers} subscriber(s)",
                        f"{SECONDS} s, {run.committed:,} rows",
                        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, max {run.max_ms:.0f} ms",
                    ]
                )
                if run.drained_after is not None:
                    verdict = (
                        f"every row reached all {subscribers}; the last {run.drained_after:.2f} s "
                        "after the writer stopped"
                    )
                else:
                    verdict = f"NOT ALL DELIVERED within {DRAIN_LIMIT:g} s: {_describe_missing(run.missing)}"
                if run.duplicated:
                    verdict += f"; {run.duplicated} delivered twice"
                if run.ended:
                    verdict += f"; {run.ended} stream(s) closed by the server"
                deliveries.append(f"{subscribers} subscriber(s): {verdict}")
            print(table(["measure", "load", "result"], rows))
            for line in deliveries:
                print(line)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
            connection.close()
            with psycopg.connect(users_server_url("postgres"), autocommit=True) as conn:
                for (slot,) in conn.execute(
                    "SELECT slot_name FROM pg_replication_slots WHERE database = 'bench_pulse_source'"
                ).fetchall():
                    conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
                conn.execute("DROP DATABASE IF EXISTS bench_pulse_source WITH (FORCE)")


if __name__ == "__main__":
    main()
