"""Enabling and disabling against real servers. Transactional: creating a logical slot waits
for every transaction on the server that holds an xid, including a test's own."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from console.audit import Actor
from console.models import AuditEvent
from console.services import organization_delete
from projects.services import project_delete
from pulse.leftovers import pulse_leftover_recheck
from pulse.models import PulseConfig, PulseLeftoverSlot
from pulse.services import PulseError, pulse_disable, pulse_enable, pulse_slot_name
from tests.factories import ProjectFactory
from tests.pulse.conftest import publication_names, run_sql, slot_names
from userdb.connection_strings import parse
from userdb.encryption import decrypt

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor.command("test")


def enable(project, url, tables=None):
    return pulse_enable(
        project=project, connection_string=url, region="eu-west-1", tables=tables or [], actor=ACTOR
    )


def slot_plugin(conninfo: str, name: str) -> str | None:
    with psycopg.connect(conninfo) as connection:
        row = connection.execute(
            "SELECT plugin FROM pg_replication_slots WHERE slot_name = %s", [name]
        ).fetchone()
    return row[0] if row else None


def test_enabling_creates_the_publication_and_a_pgoutput_slot_and_stores_the_url_encrypted(
    project, source_url, source_database
):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    config = enable(project, source_url)
    name = f"console_pulse_{project.short_id}"
    assert pulse_slot_name(project) == name
    assert (config.enabled, config.slot_name, config.publication_name, config.tables) == (
        True,
        name,
        name,
        [],
    )
    assert slot_names(source_database) == [name]
    assert slot_plugin(source_database, name) == "pgoutput"
    assert publication_names(source_database) == [name]
    stored = PulseConfig.objects.values_list("connection_string", flat=True).get(project=project)
    assert source_url not in stored and decrypt(stored) == source_url
    event = AuditEvent.objects.get(action="pulse.enable")
    assert event.details["slot"] == name and event.details["tables"] == "all"
    assert event.details["database"] == parse(source_url).redacted()  # the password never


def test_enabling_for_picked_tables_publishes_only_those(project, source_url, source_database):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)", "CREATE TABLE other (id int PRIMARY KEY)")
    config = enable(project, source_url, tables=["orders"])
    assert config.tables == ["public.orders"]
    with psycopg.connect(source_database) as connection:
        published = connection.execute("SELECT tablename FROM pg_publication_tables").fetchall()
    assert published == [("orders",)]


def test_a_database_that_is_not_ready_creates_nothing(project, machine_database):
    with pytest.raises(PulseError) as failure:
        enable(project, machine_database.superuser_url)
    assert "wal_level is replica" in failure.value.message
    assert failure.value.readiness is not None and not failure.value.readiness.ready
    assert not PulseConfig.objects.exists()
    assert publication_names(machine_database.admin) == []


def test_our_own_inactive_slot_is_reused(project, source_url, source_database):
    name = pulse_slot_name(project)
    run_sql(source_url, f"SELECT pg_create_logical_replication_slot('{name}', 'pgoutput')")
    enable(project, source_url)
    assert slot_names(source_database) == [name]
    assert AuditEvent.objects.get(action="pulse.enable").details["reused_slot"] is True


def test_a_slot_creation_that_times_out_leaves_no_publication_behind(
    project, source_url, source_database, settings
):
    settings.PULSE_SLOT_CREATE_TIMEOUT = 1
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    # A transaction holding an xid: a new logical slot waits for it to end.
    with psycopg.connect(source_database) as blocker:
        blocker.execute("INSERT INTO orders VALUES (1)")
        with pytest.raises(PulseError, match="Creating the replication slot timed out"):
            enable(project, source_url)
    assert slot_names(source_database) == []
    assert publication_names(source_database) == []
    assert not PulseConfig.objects.filter(enabled=True).exists()


def test_a_connection_lost_mid_enable_is_undone_on_a_new_connection(project, source_url, source_database):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    stop = threading.Event()

    def cut_the_enabling_connection() -> None:
        with psycopg.connect(source_database, autocommit=True) as killer:
            while not stop.is_set():
                row = killer.execute(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                    ["%pg_create_logical_replication_slot%"],
                ).fetchone()
                if row:
                    killer.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                    return
                time.sleep(0.01)

    with psycopg.connect(source_database) as blocker:
        blocker.execute("INSERT INTO orders VALUES (1)")  # holds slot creation until the cut
        cutter = threading.Thread(target=cut_the_enabling_connection)
        cutter.start()
        try:
            with pytest.raises(PulseError):
                enable(project, source_url)
        finally:
            stop.set()
            cutter.join()
    assert slot_names(source_database) == []
    assert publication_names(source_database) == []
    assert not PulseConfig.objects.filter(enabled=True).exists()


def test_disabling_a_reachable_database_drops_the_slot_and_publication(project, source_url, source_database):
    enable(project, source_url)
    result = pulse_disable(project=project, actor=ACTOR)
    assert result.dropped and result.leftover is None
    assert "were dropped from your database" in result.message
    assert slot_names(source_database) == [] and publication_names(source_database) == []
    config = PulseConfig.objects.get(project=project)
    assert not config.enabled and config.connection_string == ""
    assert AuditEvent.objects.get(action="pulse.disable").details["dropped"] is True


def test_disabling_ends_a_connection_that_still_reads_the_slot(project, source_url, source_database):
    enable(project, source_url)
    name = pulse_slot_name(project)
    reader = psycopg.connect(source_database + " replication=database", autocommit=True)
    try:
        start = f"START_REPLICATION SLOT {name} LOGICAL 0/0 (proto_version '1', publication_names '{name}')"
        reader.pgconn.send_query(start.encode())
        with psycopg.connect(source_database, autocommit=True) as watcher:
            while (
                watcher.execute(
                    "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND active", [name]
                ).fetchone()
                is None
            ):
                time.sleep(0.01)
        pulse_disable(project=project, actor=ACTOR)
    finally:
        reader.close()
    assert slot_names(source_database) == []


def test_disabling_while_unreachable_records_the_leftover_until_the_console_drops_it(
    project, proxied_source, source_database
):
    url, proxy = proxied_source
    enable(project, url)
    proxy.stop()
    result = pulse_disable(project=project, actor=ACTOR)
    assert not result.dropped
    leftover = result.leftover
    assert leftover is not None and leftover.slot_name == pulse_slot_name(project)
    assert "Could not connect to the database" in leftover.last_error
    assert not PulseConfig.objects.get(project=project).enabled
    assert slot_names(source_database) == [leftover.slot_name]

    assert pulse_leftover_recheck(leftover=leftover, actor=ACTOR) is False
    assert PulseLeftoverSlot.objects.filter(pk=leftover.pk).exists()

    proxy.start()
    assert pulse_leftover_recheck(leftover=leftover, actor=ACTOR) is True
    assert not PulseLeftoverSlot.objects.exists()
    assert slot_names(source_database) == [] and publication_names(source_database) == []
    assert AuditEvent.objects.filter(action="pulse.leftover_slot.dropped").exists()


def test_a_leftover_already_dropped_by_hand_is_confirmed_gone(project, proxied_source, source_database):
    url, proxy = proxied_source
    enable(project, url)
    proxy.stop()
    leftover = pulse_disable(project=project, actor=ACTOR).leftover
    assert leftover is not None
    run_sql(source_database, f"SELECT pg_drop_replication_slot('{leftover.slot_name}')")
    proxy.start()
    assert pulse_leftover_recheck(leftover=leftover, actor=ACTOR) is True
    assert AuditEvent.objects.filter(action="pulse.leftover_slot.gone").exists()


def test_deleting_a_project_releases_its_slot(project, source_url, source_database):
    enable(project, source_url)
    assert project_delete(project=project, actor=ACTOR) == []
    assert slot_names(source_database) == []


def test_deleting_a_project_whose_database_is_away_keeps_the_leftover_on_the_organization(
    project, proxied_source
):
    url, proxy = proxied_source
    enable(project, url)
    proxy.stop()
    organization, slot = project.organization, pulse_slot_name(project)
    [message] = project_delete(project=project, actor=ACTOR)
    assert slot in message and "pg_drop_replication_slot" in message
    leftover = PulseLeftoverSlot.objects.get()
    assert leftover.project is None and leftover.organization == organization


def test_deleting_an_organization_reports_every_slot_left_behind(organization, source_url, proxied_source):
    reachable, away = ProjectFactory(organization=organization), ProjectFactory(organization=organization)
    enable(reachable, source_url)
    url, proxy = proxied_source
    enable(away, url)
    proxy.stop()
    slot = pulse_slot_name(away)
    messages = organization_delete(organization=organization, confirm_name=organization.name, actor=ACTOR)
    assert len(messages) == 1 and slot in messages[0]
    assert not PulseConfig.objects.exists()
