"""The checklist's rules on facts no test server here can produce: an old server, a full set of
slots, AWS's replication role, an existing publication that covers only some tables. The
live checks against real servers are in test_readiness.py."""

from __future__ import annotations

import dataclasses

from pulse.checklist import Facts, SlotState, Status, Table, checklist_run


def facts(**changes) -> Facts:
    """A database that is ready for Pulse, with ``changes``."""
    ready = Facts(
        address="db.example.com:5432",
        database="shop",
        role="app",
        version_num=160002,
        version="16.2",
        wal_level="logical",
        superuser=False,
        replication=True,
        rds_replication=False,
        can_create=True,
        max_slots=10,
        used_slots=2,
        slot_name="console_pulse_abc",
        slot=SlotState(exists=False),
        publication_name="console_pulse_abc",
        publication_exists=False,
        publication_all_tables=False,
        published=[],
        wanted=["public.orders"],
        tables=[Table("public", "orders", "f", True, True)],
    )
    return dataclasses.replace(ready, **changes)


def results(**changes):
    return {check.key: check for check in checklist_run(facts(**changes))}


def test_a_ready_database_passes_every_item_and_says_where_it_connected():
    checks = results()
    assert {check.status for check in checks.values()} == {Status.PASS}
    assert checks["reachable"].detail == "Connected to shop on db.example.com:5432 as app."
    assert checks["slot"].detail == "8 of 10 replication slots are free."


def test_a_server_older_than_12_fails_with_the_upgrade_to_do():
    version = results(version_num=110021, version="11.21")["version"]
    assert (version.status, version.blocking) == (Status.FAIL, True)
    assert version.detail == "The server runs PostgreSQL 11.21; Pulse needs 12 or newer."
    assert version.fix.startswith("Upgrade the server to PostgreSQL 12 or newer")


def test_every_slot_in_use_fails_with_one_more_slot_or_a_slot_to_drop():
    slot = results(max_slots=4, used_slots=4)["slot"]
    assert slot.status == Status.FAIL
    assert slot.detail == "All 4 replication slots (max_replication_slots) are in use."
    assert slot.fix.startswith("ALTER SYSTEM SET max_replication_slots = 5;\n")
    assert "pg_drop_replication_slot" in slot.fix


def test_a_member_of_rds_replication_can_replicate():
    replication = results(replication=False, rds_replication=True)["replication"]
    assert (replication.status, replication.detail) == (Status.PASS, "The role app is in rds_replication.")


def test_the_replica_identity_warning_covers_only_what_an_existing_publication_captures():
    tables = [Table("public", "orders", "d", True, True), Table("public", "audit_log", "d", False, True)]
    existing = {"publication_exists": True, "tables": tables, "wanted": []}
    checks = results(**existing, publication_all_tables=False, published=["public.orders"])
    identity = checks["replica_identity"]
    assert (
        checks["publication"].detail == "The publication console_pulse_abc exists and covers public.orders."
    )
    assert (identity.status, identity.blocking) == (Status.WARNING, False)
    assert identity.fix == "ALTER TABLE orders REPLICA IDENTITY FULL;"
    assert "1 of 1 tables" in identity.detail and "audit_log" not in identity.detail
    everything = results(**existing, publication_all_tables=True, published=[])
    assert everything["replica_identity"].detail.startswith("2 of 2 tables")
