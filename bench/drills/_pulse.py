"""What the Pulse drills share: a console database and a "user" database (both throwaway clusters,
the user's with wal_level=logical), Pulse enabled on it, `manage.py pulseworker` processes, and
reading back what was captured."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg

from bench.drills._harness import ROOT, ThrowawayPostgres, console_env, manage, seed


def start_pulseworker(env: dict[str, str], **extra: str) -> subprocess.Popen[bytes]:
    """A `manage.py pulseworker` process with the console's environment ``env``."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "pulseworker"],
        cwd=ROOT,
        env={**env, "PULSE_WORKER_REFRESH": "0.5", "PULSE_LOCK_RETRY": "0.5", **extra},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@dataclass
class PulseSetup:
    console_pg: ThrowawayPostgres
    user_pg: ThrowawayPostgres
    user_database: str
    env: dict[str, str]
    project: str
    workers: list[subprocess.Popen[bytes]]

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        """A `manage.py pulseworker` process (killed, if still running, when the drill ends)."""
        process = start_pulseworker(self.env, **extra)
        self.workers.append(process)
        return process

    def captured_ids(self) -> list[int]:
        """The ids of the rows whose insert is in the project's event log, in log order."""
        with psycopg.connect(self.console_pg.url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT (payload->'created'->>'id')::int FROM pulse_pulseevent"
                " WHERE project_id = %s AND action = 'create' ORDER BY id",
                [self.project],
            ).fetchall()
        return [row[0] for row in rows]

    def event_count(self) -> int:
        with psycopg.connect(self.console_pg.url(), autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pulse_pulseevent WHERE project_id = %s", [self.project])
            return int(row.fetchone()[0])  # type: ignore[index]

    def table_ids(self, table: str) -> list[int]:
        with psycopg.connect(self.user_database, autocommit=True) as conn:
            return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608

    def wait_for_events(self, count: int, timeout: float) -> float | None:
        """Seconds until the log holds at least ``count`` events (None: not within ``timeout``)."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if self.event_count() >= count:
                return time.monotonic() - began
            time.sleep(0.1)
        return None


@contextlib.contextmanager
def pulse_setup(table: str) -> Iterator[PulseSetup]:
    """Both clusters, migrations, a project with Pulse enabled on the user's database (which has
    ``table`` with an int primary key); every worker process stopped afterwards."""
    with ThrowawayPostgres() as console_pg, ThrowawayPostgres() as user_pg:
        user_database = user_pg.create_database("userdb")
        with psycopg.connect(user_database, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        env = console_env(database_url=console_pg.url(), data_dir=console_pg.folder)
        manage(env, "migrate", "--no-input")
        seeded = seed(env, pulse_database=user_database)
        setup = PulseSetup(console_pg, user_pg, user_database, env, seeded["project"], [])
        try:
            yield setup
        finally:
            for process in setup.workers:
                if process.poll() is None:
                    process.terminate()
            for process in setup.workers:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
