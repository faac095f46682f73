"""Drill: the user's database restarts while Pulse captures from it.

A `manage.py pulseworker` process captures a throwaway "user" PostgreSQL cluster (wal_level=logical)
while a writer inserts 5-row transactions without pause. The user's cluster is stopped (fast
shutdown) for 3 s and started again on the same port; the writer reconnects and carries on. Passes
when, afterwards, the event log holds exactly the rows the table holds: every committed row once
(none lost, none duplicated, including any transaction whose commit raced the shutdown), and
capture caught up within 30 s of the writer stopping.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg

from bench.drills._harness import verdict
from bench.drills._pulse import PulseSetup, pulse_setup

BEFORE, DOWN, AFTER = 3.0, 3.0, 3.0
CATCH_UP_LIMIT = 30.0


class Writer:
    """Inserts 5-row transactions until stopped; reconnects after failures."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.next_id = 0
        self.failures = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=2) as conn:
                    while not self.stop.is_set():
                        first = self.next_id
                        self.next_id += 5  # an id is never reused, even if its commit's fate is unknown
                        conn.execute(
                            "INSERT INTO orders SELECT i, 'x' FROM generate_series(%s::int, %s::int) i",
                            [first, first + 4],
                        )
                        time.sleep(0.002)
            except psycopg.Error:
                self.failures += 1
                time.sleep(0.1)


def drill(setup: PulseSetup) -> bool:
    setup.start_worker()
    writer = Writer(setup.user_database)
    thread = threading.Thread(target=writer.run, daemon=True)
    thread.start()
    time.sleep(BEFORE)
    setup.user_pg.stop()
    down_at = time.monotonic()
    time.sleep(DOWN)
    setup.user_pg.start()
    down = time.monotonic() - down_at
    time.sleep(AFTER)
    writer.stop.set()
    thread.join(10)
    rows = setup.table_ids("orders")
    caught_up = setup.wait_for_events(len(rows), CATCH_UP_LIMIT)
    time.sleep(1.0)  # anything captured twice would show up now
    captured = setup.captured_ids()
    counts = Counter(captured)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    lost = len(set(rows) - set(counts))
    phantom = len(set(counts) - set(rows))
    passed = (
        caught_up is not None
        and writer.failures > 0
        and not duplicated
        and not lost
        and not phantom
        and len(captured) == len(rows)
    )
    return verdict(
        "user database restart during Pulse capture",
        passed,
        f"{len(rows)} rows committed ({writer.next_id} attempted, {writer.failures} writer reconnects), "
        f"database down {down:.1f} s; {len(captured)} events in the log: {lost} lost, "
        f"{duplicated} duplicated, {phantom} without a row; caught up "
        + (f"{caught_up:.1f} s after the writer stopped" if caught_up is not None else "never"),
    )


def main() -> bool:
    with pulse_setup("orders") as setup:
        return drill(setup)


if __name__ == "__main__":
    main()
