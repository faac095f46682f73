"""Shared helpers for benchmarks: a scratch test database, timing, and table printing."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_django_ready = False


def setup_django() -> None:
    """Idempotent, so that `make bench` can run several modules in one process."""
    global _django_ready
    if _django_ready:
        return
    _django_ready = True
    # The test settings: fast password hashing for the users benchmarks generate.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    from devtools import bootstrap

    bootstrap.prepare()
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment(debug=False)  # the test client's host, locmem email


def users_server_url(database: str) -> str:
    """A superuser URL for a database on the server benchmarks make their users' databases on:
    the embedded demo server (devtools/bootstrap.py), never the console's own, which the
    connection-string guard refuses."""
    from devtools import bootstrap

    return bootstrap.prepare_demo_server().superuser_url(database)


@contextmanager
def scratch_database() -> Iterator[None]:
    """Create a fresh, migrated database (test_<name>) for the benchmark and drop it afterwards."""
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    old = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        # Servers the benchmark ran (in threads) may still hold connections to it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        teardown_databases(old, verbosity=0)


def measure(fn: Callable[[], object], *, repeat: int, warmup: int = 5) -> list[float]:
    """Seconds per call, for `repeat` calls after `warmup` unmeasured ones."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(value.ljust(widths[i]) for i, value in enumerate(row)) for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL of every query run on the default connection inside the block."""
    from django.db import connection

    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen
