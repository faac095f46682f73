"""The capture worker against real PostgreSQL: what lands in the event log, and how it copes.

Transactional: creating a logical slot waits for every transaction on the server that holds
an xid, and the worker reads what the test committed over its own connections.
"""

from __future__ import annotations

import datetime as dt
import threading

import psycopg
import pytest
from django.utils import timezone

from console.audit import Actor
from pulse.capture.pgoutput import parse_lsn
from pulse.capture.worker import CaptureWorker
from pulse.models import PulseConfig, PulseEvent
from pulse.services import pulse_disable, pulse_events_prune
from tests.factories import ProjectFactory
from tests.pulse.capture_helpers import enable, events, running_worker, wait_for
from tests.pulse.conftest import run_sql

pytestmark = pytest.mark.django_db(transaction=True)


def config_of(project) -> PulseConfig:
    return PulseConfig.objects.get(project=project)


def test_inserts_updates_and_deletes_become_documented_events_with_the_default_replica_identity(
    project, source_url
):
    run_sql(
        source_url, "CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, price numeric, big int8)"
    )
    enable(project, source_url)
    with running_worker():
        run_sql(
            source_url,
            "INSERT INTO orders VALUES (1, 'tea', 2, 3.50, 9007199254740993)",
            "UPDATE orders SET qty = 3 WHERE id = 1",
            "UPDATE orders SET id = 10 WHERE id = 1",
            "DELETE FROM orders WHERE id = 10",
        )
        created, updated, rekeyed, deleted = events(project, 4)
    row = {"id": 1, "item": "tea", "qty": 2, "price": "3.50", "big": "9007199254740993"}
    assert created == {**created, "model": "orders", "action": "create", "created": row}
    # Without REPLICA IDENTITY FULL PostgreSQL sends no old row: no before values.
    assert (updated["action"], updated["before"], updated["after"]) == ("update", None, {**row, "qty": 3})
    # ...except the old key when the key itself changed.
    assert rekeyed["before"] == {"id": 1}
    assert rekeyed["after"] == {**row, "id": 10, "qty": 3}
    assert (deleted["action"], deleted["deleted"]) == ("delete", {"id": 10})
    assert "unchanged" not in updated


def test_with_replica_identity_full_updates_carry_the_old_row_and_deletes_the_whole_row(project, source_url):
    run_sql(
        source_url,
        "CREATE TABLE users (id int PRIMARY KEY, email text, tags text[], profile jsonb, seen timestamptz)",
        "ALTER TABLE users REPLICA IDENTITY FULL",
    )
    enable(project, source_url)
    with running_worker():
        run_sql(
            source_url,
            "INSERT INTO users VALUES "
            "(1, 'a@example.com', '{x,y}', '{\"age\": 30}', '2024-05-01 12:00:00+00')",
            "UPDATE users SET email = 'b@example.com'",
            "DELETE FROM users",
        )
        _, updated, deleted = events(project, 3)
    row = {
        "id": 1,
        "email": "a@example.com",
        "tags": ["x", "y"],
        "profile": {"age": 30},
        "seen": "2024-05-01T12:00:00+00:00",
    }
    assert updated["before"] == row
    assert updated["after"] == {**row, "email": "b@example.com"}
    assert deleted["deleted"] == {**row, "email": "b@example.com"}


def test_an_unchanged_toasted_value_is_named_in_unchanged_unless_the_old_row_carries_it(project, source_url):
    big = "".join(f"{i:08x}" for i in range(40_000))  # 320 kB that does not compress away
    run_sql(
        source_url,
        "CREATE TABLE docs (id int PRIMARY KEY, title text, body text)",
        "ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL",
        "CREATE TABLE notes (id int PRIMARY KEY, title text, body text)",
        "ALTER TABLE notes ALTER COLUMN body SET STORAGE EXTERNAL",
        "ALTER TABLE notes REPLICA IDENTITY FULL",
    )
    enable(project, source_url)
    with running_worker():
        with psycopg.connect(source_url, autocommit=True) as conn:
            conn.execute("INSERT INTO docs VALUES (1, 'a', %s)", [big])
            conn.execute("INSERT INTO notes VALUES (1, 'a', %s)", [big])
        run_sql(source_url, "UPDATE docs SET title = 'b'", "UPDATE notes SET title = 'b'")
        found = events(project, 4)
    doc_created, _, doc_updated, note_updated = found
    assert doc_created["created"]["body"] == big
    assert doc_updated["after"] == {"id": 1, "title": "b"}
    assert doc_updated["unchanged"] == ["body"]
    assert note_updated["after"] == {"id": 1, "title": "b", "body": big}
    assert "unchanged" not in note_updated


def test_truncate_is_one_event_per_table(project, source_url):
    run_sql(source_url, "CREATE TABLE a (id int PRIMARY KEY)", "CREATE TABLE b (id int PRIMARY KEY)")
    enable(project, source_url)
    with running_worker():
        run_sql(source_url, "INSERT INTO a VALUES (1)", "TRUNCATE a, b")
        found = events(project, 3)
    assert [(e["model"], e["action"]) for e in found] == [
        ("a", "create"),
        ("a", "truncate"),
        ("b", "truncate"),
    ]
    assert {k: v for k, v in found[1].items() if k not in ("model", "action", "lsn")} == {}


def test_tables_created_or_altered_while_capturing_are_captured_with_their_new_columns(project, source_url):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    enable(project, source_url)
    with running_worker():
        run_sql(source_url, "INSERT INTO orders VALUES (1)")
        events(project, 1)
        run_sql(
            source_url,
            "ALTER TABLE orders ADD COLUMN note text",
            "INSERT INTO orders VALUES (2, 'hello')",
            "CREATE SCHEMA sales",
            "CREATE TABLE sales.invoices (id int PRIMARY KEY, total numeric)",
            "INSERT INTO sales.invoices VALUES (7, 1.5)",
        )
        found = events(project, 3)
        wait_for(
            lambda: config_of(project).captured_models == ["orders", "sales.invoices"],
            message="the captured tables were not recorded",
        )
    assert found[1]["created"] == {"id": 2, "note": "hello"}
    assert (found[2]["model"], found[2]["created"]) == ("sales.invoices", {"id": 7, "total": "1.5"})


def test_transactions_are_logged_whole_and_in_commit_order(project, source_url):
    run_sql(source_url, "CREATE TABLE t (id int PRIMARY KEY, who text)")
    enable(project, source_url)
    with running_worker():
        first = psycopg.connect(source_url)
        second = psycopg.connect(source_url)
        try:
            first.execute("INSERT INTO t VALUES (1, 'first')")
            second.execute("INSERT INTO t VALUES (2, 'second')")
            first.execute("INSERT INTO t VALUES (3, 'first')")
            second.execute("INSERT INTO t VALUES (4, 'second')")
            second.commit()  # commits first: its changes come first
            first.commit()
        finally:
            first.close()
            second.close()
        found = events(project, 4)
    assert [e["created"]["id"] for e in found] == [2, 4, 1, 3]
    logged = list(PulseEvent.objects.filter(project=project).order_by("id"))
    assert [e.position for e in logged] == [0, 1, 0, 1]
    assert logged[0].lsn == logged[1].lsn < logged[2].lsn == logged[3].lsn


def test_traffic_outside_the_publication_still_lets_the_slot_advance(project, source_url, source_database):
    run_sql(source_url, "CREATE TABLE watched (id int)", "CREATE TABLE other (id int)")
    config = enable(project, source_url, tables=["public.watched"])
    with running_worker():
        run_sql(source_url, "INSERT INTO other SELECT generate_series(1, 1000)")
        with psycopg.connect(source_url, autocommit=True) as conn:
            written = parse_lsn(conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0])  # type: ignore[index]

            def slot_confirmed() -> int:
                row = conn.execute(
                    "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                    [config.slot_name],
                ).fetchone()
                return parse_lsn(row[0])  # type: ignore[index]

            wait_for(
                lambda: slot_confirmed() >= written, message="the slot did not move past unpublished writes"
            )
    assert not PulseEvent.objects.filter(project=project).exists()


def test_projects_enabled_or_disabled_while_the_worker_runs_are_picked_up(source_url, organization):
    first, second = ProjectFactory(organization=organization), ProjectFactory(organization=organization)
    run_sql(source_url, "CREATE TABLE t (id int)")
    enable(first, source_url)
    with running_worker() as worker:
        run_sql(source_url, "INSERT INTO t VALUES (1)")
        events(first, 1)
        enable(second, source_url)
        wait_for(lambda: second.pk in worker.captures, message="the newly enabled project was not picked up")
        wait_for(lambda: worker.captures[second.pk].holding_lock)
        pulse_disable(project=first, actor=Actor.command("test"))
        wait_for(lambda: first.pk not in worker.captures, message="the disabled project was not dropped")
        run_sql(source_url, "INSERT INTO t VALUES (2)")
        assert [e["created"] for e in events(second, 1)] == [{"id": 2}]
    assert PulseEvent.objects.filter(project=first).count() == 1


def test_a_database_that_goes_away_is_reported_and_capture_resumes_when_it_is_back(
    project, proxied_source, source_url
):
    url, proxy = proxied_source
    run_sql(source_url, "CREATE TABLE t (id int)")
    enable(project, url)
    with running_worker() as worker:
        wait_for(lambda: project.pk in worker.captures and worker.captures[project.pk].holding_lock)
        run_sql(source_url, "INSERT INTO t VALUES (1)")
        events(project, 1)
        proxy.stop()
        wait_for(lambda: config_of(project).last_error, message="the outage was not reported")
        config = config_of(project)
        assert "127.0.0.1" in config.last_error and config.last_error_at is not None
        run_sql(source_url, "INSERT INTO t VALUES (2)")
        proxy.start()
        found = events(project, 2, timeout=45)
        wait_for(lambda: not config_of(project).last_error, message="the error was not cleared")
    assert [e["created"] for e in found] == [{"id": 1}, {"id": 2}]


def test_a_publication_dropped_by_hand_is_reported_without_killing_the_worker(project, source_url):
    run_sql(source_url, "CREATE TABLE t (id int)")
    config = enable(project, source_url)
    with running_worker() as worker:
        wait_for(lambda: project.pk in worker.captures and worker.captures[project.pk].holding_lock)
        run_sql(source_url, f"DROP PUBLICATION {config.publication_name}", "INSERT INTO t VALUES (1)")
        # Other, passing errors may be reported first; wait for the one that names the publication.
        # Nothing writes to the database afterwards: the report must not wait for WAL to move (the
        # server's own standby snapshot every 15 s would hide that), so allow well under 15 s.
        error = wait_for(
            lambda: (
                config.publication_name in config_of(project).last_error and config_of(project).last_error
            ),
            timeout=8,
            message="the dropped publication was not reported",
        )
        assert config.publication_name in error
        assert worker.captures[project.pk].is_alive()
        assert all(
            thread.is_alive()
            for thread in threading.enumerate()
            if thread.name == "pulse-" + config.slot_name
        )


def test_a_slot_dropped_by_hand_is_reported_by_name(project, source_url):
    run_sql(source_url, "CREATE TABLE t (id int)")
    config = enable(project, source_url)
    with running_worker() as worker:
        wait_for(lambda: project.pk in worker.captures and worker.captures[project.pk].holding_lock)
        # The worker holds the slot only while it reads; between reads it can be dropped.
        wait_for(lambda: drop_slot(source_url, config.slot_name), message="the slot stayed active")
        # A read that meets the DROP itself is reported as the slot being in use, for a moment: wait for
        # the report that the slot is gone.
        error = wait_for(
            lambda: (
                "is not in the database" in config_of(project).last_error and config_of(project).last_error
            ),
            timeout=8,
            message="the dropped slot was not reported",
        )
        assert error == (
            f"The replication slot {config.slot_name} is not in the database (dropped outside the "
            "console): disable Pulse and enable it again."
        )
        assert worker.captures[project.pk].is_alive()


def test_disabling_pulse_stops_the_reader_without_calling_the_slot_dropped_outside_the_console(
    project, source_url, caplog
):
    """Disabling drops the slot from the console: the reader that finds it gone stops quietly, not
    with the warning meant for a slot someone else dropped."""
    run_sql(source_url, "CREATE TABLE t (id int)")
    enable(project, source_url)
    worker = CaptureWorker(refresh=3600)  # the supervisor never looks again: the reader must notice
    supervisor = threading.Thread(target=worker.run, daemon=True)
    supervisor.start()
    try:
        wait_for(lambda: project.pk in worker.captures and worker.captures[project.pk].holding_lock)
        reader = worker.captures[project.pk]
        with caplog.at_level("INFO", logger="pulse.worker"):
            result = pulse_disable(project=project, actor=Actor.command("test"))
            assert result.dropped
            wait_for(lambda: not reader.is_alive(), message="the reader kept going after Pulse was disabled")
        messages = [record.getMessage() for record in caplog.records]
        assert not any("outside the" in message for message in messages), messages
        assert any("Pulse was disabled; stopped reading" in message for message in messages)
        assert config_of(project).last_error == ""
    finally:
        worker.stop()
        supervisor.join(15)


def drop_slot(url: str, name: str) -> bool:
    try:
        run_sql(url, f"SELECT pg_drop_replication_slot('{name}')")
    except psycopg.errors.ObjectInUse:
        return False
    return True


def test_retention_prunes_old_events_only(project):
    now = timezone.now()
    for i, age in enumerate([10, 8, 1]):
        PulseEvent.objects.create(
            project=project,
            model_name="t",
            action="create",
            payload={"created": {"id": i}},
            lsn=i,
            position=0,
            seq=i + 1,
            committed_at=now,
            captured_at=now - dt.timedelta(days=age),
        )
    assert pulse_events_prune(before=now - dt.timedelta(days=7), batch_size=1) == 2
    assert [e.payload for e in PulseEvent.objects.all()] == [{"created": {"id": 2}}]
