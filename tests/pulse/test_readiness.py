from __future__ import annotations

import socket
import uuid

import pytest

from pulse.checklist import Status
from pulse.readiness import readiness_check, table_names_parse
from tests.pulse.conftest import run_sql

pytestmark = pytest.mark.django_db


@pytest.fixture
def name() -> str:
    """The slot and publication name; slot names are unique per server, so one per test."""
    return f"console_pulse_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def check(name):
    def run(url: str, tables: list[str] | None = None):
        readiness = readiness_check(
            connection_string=url, slot_name=name, publication_name=name, tables=tables
        )
        return readiness, {item.key: item for item in readiness.checks}

    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_logical_database_passes_every_blocking_check(source_url, check):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
    readiness, checks = check(source_url)
    assert readiness.ready
    assert [c.status for key, c in checks.items() if key != "replica_identity"] == [Status.PASS] * 6
    assert "wal_level is logical" in checks["wal_level"].detail
    assert "will be created for all tables" in checks["publication"].detail


def test_tables_without_replica_identity_full_are_a_warning_with_the_fix_and_the_cost(source_url, check):
    run_sql(
        source_url,
        "CREATE TABLE orders (id int PRIMARY KEY)",
        "CREATE TABLE audit_log (at timestamptz)",
        "CREATE TABLE users (id int PRIMARY KEY)",
        "ALTER TABLE users REPLICA IDENTITY FULL",
    )
    readiness, checks = check(source_url)
    identity = checks["replica_identity"]
    assert readiness.ready
    assert identity.status == Status.WARNING
    assert identity.fix == (
        "ALTER TABLE audit_log REPLICA IDENTITY FULL;\nALTER TABLE orders REPLICA IDENTITY FULL;"
    )
    assert "no before values" in identity.detail and "only the primary key" in identity.detail
    assert "public.audit_log have no primary key" in identity.detail
    assert "whole old row to the WAL" in identity.note


def test_the_replica_identity_warning_covers_only_the_tables_picked(source_url, check):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)", "CREATE TABLE other (id int PRIMARY KEY)")
    run_sql(source_url, "ALTER TABLE orders REPLICA IDENTITY FULL")
    readiness, checks = check(source_url, tables=["public.orders"])
    assert checks["replica_identity"].status == Status.PASS
    assert "will be created for 1 tables" in checks["publication"].detail


def test_picking_a_table_that_does_not_exist_fails(source_url, check):
    readiness, checks = check(source_url, tables=["public.nope"])
    assert not readiness.ready
    assert checks["publication"].status == Status.FAIL
    assert "do not exist" in checks["publication"].detail and "public.nope" in checks["publication"].detail


def test_a_slot_of_that_name_that_is_not_ours_fails_with_a_clear_message(source_url, check, name):
    run_sql(source_url, f"SELECT pg_create_physical_replication_slot('{name}')")
    try:
        readiness, checks = check(source_url)
    finally:
        run_sql(source_url, f"SELECT pg_drop_replication_slot('{name}')")
    assert not readiness.ready
    assert checks["slot"].status == Status.FAIL
    assert "already exists and is not one Pulse can use (a physical slot" in checks["slot"].detail
    assert checks["slot"].fix == f"SELECT pg_drop_replication_slot('{name}');"


def test_an_inactive_pgoutput_slot_of_that_name_in_this_database_is_reused(
    source_url, source_database, check, name
):
    from tests.pulse.conftest import slot_names

    run_sql(source_url, f"SELECT pg_create_logical_replication_slot('{name}', 'pgoutput')")
    assert slot_names(source_database) == [name]
    readiness, checks = check(source_url)
    assert readiness.ready
    assert readiness.slot.ours
    assert "Pulse will reuse it" in checks["slot"].detail


def test_an_existing_publication_passes_and_says_what_it_covers(source_url, check, name):
    run_sql(
        source_url, "CREATE TABLE orders (id int PRIMARY KEY)", f"CREATE PUBLICATION {name} FOR TABLE orders"
    )
    readiness, checks = check(source_url)
    assert readiness.publication_exists and readiness.publication_tables == ["public.orders"]
    assert checks["publication"].detail == f"The publication {name} exists and covers public.orders."


def test_an_unreachable_database_fails_the_first_check_and_checks_nothing_else(check):
    readiness, checks = check(f"postgresql://app:secret@127.0.0.1:{free_port()}/app")
    assert not readiness.ready
    assert checks["reachable"].status == Status.FAIL
    assert "Could not connect to the database at 127.0.0.1:" in checks["reachable"].detail
    assert {c.status for key, c in checks.items() if key != "reachable"} == {Status.NOT_CHECKED}
    assert "secret" not in repr(readiness)


def test_a_mysql_url_is_answered_not_supported_yet(check):
    readiness, checks = check("mysql://app:secret@db.example.com/app")
    assert checks["reachable"].detail == "MySQL is not supported yet. Enter a PostgreSQL connection string."


def test_the_machine_postgres_with_wal_level_replica_fails_with_the_fix(machine_database, check):
    readiness, checks = check(machine_database.superuser_url)
    assert not readiness.ready
    assert checks["reachable"].status == Status.PASS
    assert checks["version"].status == Status.PASS and checks["version"].detail.startswith("PostgreSQL 15")
    assert checks["wal_level"].status == Status.FAIL
    assert "wal_level is replica" in checks["wal_level"].detail
    assert checks["wal_level"].fix.startswith("ALTER SYSTEM SET wal_level = logical;")
    assert "rds.logical_replication" in checks["wal_level"].note
    assert checks["replication"].status == Status.PASS  # postgres is a superuser


def test_a_role_without_replication_fails_with_alter_role_and_the_providers_names(
    machine_database, check, name
):
    readiness, checks = check(machine_database.url)
    replication = checks["replication"]
    assert replication.status == Status.FAIL
    assert replication.fix == f"ALTER ROLE {machine_database.role} WITH REPLICATION;"
    for provider_name in ("rds_replication", "cloudsqlsuperuser", "Supabase", "Neon"):
        assert provider_name in replication.note
    # FOR ALL TABLES needs a superuser.
    assert checks["publication"].status == Status.FAIL
    assert checks["publication"].fix == f"CREATE PUBLICATION {name} FOR ALL TABLES;"


def test_a_role_that_does_not_own_the_picked_tables_gets_the_grants_to_run(machine_database, check):
    run_sql(
        machine_database.admin,
        "CREATE TABLE orders (id int PRIMARY KEY)",
        f"REVOKE CREATE ON DATABASE {machine_database.database} FROM PUBLIC",
    )
    readiness, checks = check(machine_database.url, tables=["orders"])
    publication = checks["publication"]
    assert publication.status == Status.FAIL, publication
    assert publication.fix == (
        f"GRANT CREATE ON DATABASE {machine_database.database} TO {machine_database.role};\n"
        f"ALTER TABLE orders OWNER TO {machine_database.role};"
    ), publication.detail
    run_sql(
        machine_database.admin,
        f"GRANT CREATE ON DATABASE {machine_database.database} TO {machine_database.role}",
        f"ALTER TABLE orders OWNER TO {machine_database.role}",
    )
    readiness, checks = check(machine_database.url, tables=["orders"])
    assert checks["publication"].status == Status.PASS


def test_table_names_are_read_as_schema_and_table():
    assert table_names_parse(' orders, sales.items ,orders\n"Mixed"') == [
        "public.orders",
        "sales.items",
        "public.Mixed",
    ]
    assert table_names_parse("") == []
    with pytest.raises(ValueError, match="a.b.c is not a table name"):
        table_names_parse("a.b.c")
