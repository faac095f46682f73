"""Real `manage.py pulseworker` processes: SIGKILL in the middle of a burst, and failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from console.audit import Actor
from projects.services import api_key_create
from pulse.client import stream
from pulse.models import PulseEvent
from tests.pulse.capture_helpers import enable, events, wait_for
from tests.pulse.conftest import RawStream, run_sql

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def start_worker() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """start_worker(**env) -> a `manage.py pulseworker` on the test database; all killed afterwards."""
    db = connection.settings_dict
    base = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,
        "SECRET_ENCRYPTION_KEYS": ",".join(settings.SECRET_ENCRYPTION_KEYS),
        "ALLOW_PRIVATE_DATABASE_HOSTS": "true",
        "PULSE_WORKER_REFRESH": "0.5",
        "PULSE_LOCK_RETRY": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "pulseworker"],
            cwd=settings.BASE_DIR,
            env={**base, **env},
            stdout=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()  # a clean stop closes its connections before the test database goes
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_worker_killed_mid_burst_loses_and_duplicates_nothing_once_restarted(
    project, source_url, start_worker, stream_server
):
    run_sql(source_url, "CREATE TABLE burst (id int PRIMARY KEY, payload text)")
    enable(project, source_url)
    _, key = api_key_create(project=project, name="burst", actor=Actor.command("test"))
    # A named stream that exists before the burst: it must deliver every change of it.
    opened = RawStream(stream_server.url, key, model="burst", name="reader")
    assert opened.response.status == 200
    opened.close()
    first = start_worker(PULSE_BATCH_CHANGES="700")

    def burst() -> None:
        # 10,000 rows: a 4,000-row transaction in the middle of 6,000 rows in 60 transactions.
        with psycopg.connect(source_url, autocommit=True) as conn:
            for start in range(0, 3000, 100):
                conn.execute(
                    "INSERT INTO burst SELECT i, 'x' FROM generate_series(%s::int, %s::int) i",
                    [start, start + 99],
                )
            conn.execute("INSERT INTO burst SELECT i, 'big' FROM generate_series(3000, 6999) i")
            for start in range(7000, 10000, 100):
                conn.execute(
                    "INSERT INTO burst SELECT i, 'x' FROM generate_series(%s::int, %s::int) i",
                    [start, start + 99],
                )

    writer = threading.Thread(target=burst)
    writer.start()
    wait_for(
        lambda: PulseEvent.objects.filter(project=project).count() >= 1500,
        message="the first worker captured nothing",
    )
    first.send_signal(signal.SIGKILL)
    first.wait()
    writer.join()
    killed_at = PulseEvent.objects.filter(project=project).count()
    assert killed_at < 10_000, "the worker finished before it was killed: the test proves nothing"
    start_worker(PULSE_BATCH_CHANGES="700")
    found = events(project, 10_000, timeout=60)
    time.sleep(1)  # anything written twice would show up now
    logged = list(
        PulseEvent.objects.filter(project=project).order_by("id").values_list("lsn", "position", "payload")
    )
    assert len(logged) == 10_000
    assert len({(lsn, position) for lsn, position, _ in logged}) == 10_000
    assert [e["created"]["id"] for e in found] == list(range(10_000))
    with stream("burst", name="reader", url=stream_server.url, api_key=key) as delivered:
        received = [next(delivered).created for _ in range(10_000)]
    assert [row["id"] for row in received if row] == list(range(10_000))


def test_a_second_worker_takes_over_within_ten_seconds_when_the_first_dies(project, source_url, start_worker):
    run_sql(source_url, "CREATE TABLE t (id int)")
    enable(project, source_url)
    first = start_worker()
    run_sql(source_url, "INSERT INTO t VALUES (1)")
    events(project, 1)
    start_worker()
    time.sleep(1.5)  # the second one is waiting for the lock by now
    run_sql(source_url, "INSERT INTO t VALUES (2)")
    events(project, 2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    died = time.monotonic()
    run_sql(source_url, "INSERT INTO t VALUES (3)")
    found = events(project, 3, timeout=10)
    assert time.monotonic() - died < 10
    assert [e["created"]["id"] for e in found] == [1, 2, 3]
