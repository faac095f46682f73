"""Drill: the capture worker is killed (SIGKILL) three times in the middle of a burst.

A `manage.py pulseworker` process (reading 700 changes at a time) captures a burst of 20,000
inserted rows: 100-row transactions with a 4,000-row transaction in the middle. Each time the log
has grown by another ~3,000 events the worker is killed with SIGKILL and a new one started at
once. Passes when every kill landed mid-burst (the log was short of the total) and, afterwards,
the log holds each of the 20,000 changes exactly once (distinct commit LSN and position, ids 0 to
19,999 in order), within 60 s of the burst's end.
"""

from __future__ import annotations

import signal
import threading
import time

import psycopg

from bench.drills._harness import verdict
from bench.drills._pulse import PulseSetup, pulse_setup

TOTAL = 20_000
BIG = (8_000, 12_000)  # one 4,000-row transaction
TRANSACTIONS = (TOTAL - (BIG[1] - BIG[0])) // 100 + 1
KILLS = 3
EVERY = 3_000  # events captured between kills
CATCH_UP_LIMIT = 60.0


def burst(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        start = 0
        while start < TOTAL:
            end = BIG[1] if start == BIG[0] else start + 100
            conn.execute(
                "INSERT INTO burst SELECT i, 'x' FROM generate_series(%s::int, %s::int) i", [start, end - 1]
            )
            start = end
            time.sleep(0.005)


def drill(setup: PulseSetup) -> bool:
    worker = setup.start_worker(PULSE_BATCH_CHANGES="700")
    writer = threading.Thread(target=burst, args=(setup.user_database,), daemon=True)
    began = time.monotonic()
    writer.start()
    killed_at: list[int] = []
    for kill in range(1, KILLS + 1):
        if setup.wait_for_events(kill * EVERY, 60) is None:
            break
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at.append(setup.event_count())
        worker = setup.start_worker(PULSE_BATCH_CHANGES="700")
    writer.join(120)
    burst_seconds = time.monotonic() - began
    caught_up = setup.wait_for_events(TOTAL, CATCH_UP_LIMIT)
    time.sleep(1.0)  # anything captured twice would show up now
    captured = setup.captured_ids()
    with psycopg.connect(setup.console_pg.url(), autocommit=True) as conn:
        distinct = conn.execute(
            "SELECT count(DISTINCT (lsn, position)) FROM pulse_pulseevent WHERE project_id = %s",
            [setup.project],
        ).fetchone()[0]  # type: ignore[index]
    passed = (
        len(killed_at) == KILLS
        and all(count < TOTAL for count in killed_at)
        and caught_up is not None
        and captured == list(range(TOTAL))
        and distinct == TOTAL
    )
    lost = len(set(range(TOTAL)) - set(captured))
    return verdict(
        "pulseworker killed with SIGKILL during a burst",
        passed,
        f"{TOTAL} rows in {TRANSACTIONS} transactions; {len(killed_at)} kills at "
        f"{', '.join(map(str, killed_at)) or 'none'} events; {len(captured)} events in the log "
        f"({distinct} distinct, {lost} lost, {len(captured) - len(set(captured))} duplicated, "
        f"in order: {captured == sorted(captured)}); burst written in {burst_seconds:.1f} s, all captured "
        + (f"{caught_up:.1f} s later" if caught_up is not None else "never"),
    )


def main() -> bool:
    with pulse_setup("burst") as setup:
        return drill(setup)


if __name__ == "__main__":
    main()
