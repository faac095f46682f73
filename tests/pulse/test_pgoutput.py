"""Decode what a real PostgreSQL server's pgoutput plugin produces."""

from __future__ import annotations

import psycopg
import pytest

from pulse.capture import pgoutput


def changes(conninfo: str, statements: list[str], *, replica_identity_full: bool = False):
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id int PRIMARY KEY, name text, note text)")
        if replica_identity_full:
            conn.execute("ALTER TABLE items REPLICA IDENTITY FULL")
        conn.execute("CREATE PUBLICATION test_pub FOR ALL TABLES")
        conn.execute("SELECT pg_create_logical_replication_slot('test_slot', 'pgoutput')")
        for statement in statements:
            conn.execute(statement)
        rows = conn.execute(
            "SELECT lsn::text, data FROM pg_logical_slot_get_binary_changes('test_slot', NULL, NULL, "
            "'proto_version', '1', 'publication_names', 'test_pub')"
        ).fetchall()
    return [(pgoutput.parse_lsn(lsn), pgoutput.decode(data)) for lsn, data in rows]


def test_insert_update_delete_in_one_transaction(source_database):
    decoded = changes(
        source_database,
        [
            "BEGIN; INSERT INTO items VALUES (1, 'one', NULL); UPDATE items SET name = 'uno' WHERE id = 1;"
            " DELETE FROM items WHERE id = 1; COMMIT",
        ],
    )
    messages = [message for _, message in decoded]
    kinds = [type(message).__name__ for message in messages]
    assert kinds == ["Begin", "Relation", "Insert", "Update", "Delete", "Commit"]
    begin, relation, insert, update, delete, commit = messages
    assert relation.model_name == "items"
    assert [c.name for c in relation.columns] == ["id", "name", "note"]
    assert [c.is_key for c in relation.columns] == [True, False, False]
    assert [c.type_oid for c in relation.columns] == [23, 25, 25]
    assert insert.new == (b"1", b"one", None)
    assert update.old is None and update.new == (b"1", b"uno", None)
    assert delete.old_is_key_only and delete.old == (b"1", None, None)
    assert begin.final_lsn == commit.commit_lsn
    assert begin.commit_time == commit.commit_time


def test_replica_identity_full_sends_the_old_row(source_database):
    decoded = changes(
        source_database,
        ["INSERT INTO items VALUES (1, 'one', 'n')", "UPDATE items SET name = 'uno' WHERE id = 1"],
        replica_identity_full=True,
    )
    update = next(m for _, m in decoded if isinstance(m, pgoutput.Update))
    assert update.old == (b"1", b"one", b"n") and not update.old_is_key_only
    assert update.new == (b"1", b"uno", b"n")


def test_unchanged_toasted_values_are_marked(source_database):
    big = "x" * 100_000  # stored out of line (TOAST), compressible, still out of line with EXTERNAL
    decoded = changes(
        source_database,
        [
            "ALTER TABLE items ALTER COLUMN note SET STORAGE EXTERNAL",
            f"INSERT INTO items VALUES (1, 'one', '{big}')",  # noqa: S608 - a fixed test value
            "UPDATE items SET name = 'uno' WHERE id = 1",
        ],
    )
    insert = next(m for _, m in decoded if isinstance(m, pgoutput.Insert))
    update = next(m for _, m in decoded if isinstance(m, pgoutput.Update))
    assert insert.new[2] == big.encode()
    assert update.new[2] is pgoutput.UNCHANGED


def test_truncate(source_database):
    decoded = changes(source_database, ["INSERT INTO items VALUES (1, 'a', NULL)", "TRUNCATE items"])
    truncate = next(m for _, m in decoded if isinstance(m, pgoutput.Truncate))
    relation = next(m for _, m in decoded if isinstance(m, pgoutput.Relation))
    assert truncate.relation_ids == (relation.relation_id,)


@pytest.mark.parametrize("data", [b"", b"Z", b"I\x00\x00", b"R\x00\x00\x00\x01public"])
def test_garbage_is_a_decode_error(data):
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(data)


def test_lsn_text_round_trip():
    assert pgoutput.format_lsn(pgoutput.parse_lsn("16/B374D848")) == "16/B374D848"
