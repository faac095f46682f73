"""Logged events as @prisma/extension-pulse frames (pulse/stream/prisma_values.py).

Rows are captured from a real database the way the worker captures them (pgoutput, decoded by
TransactionDecoder); their frames, decoded as the extension decodes them, must hold the values
PostgreSQL holds.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulse.capture.events import TransactionDecoder
from pulse.stream.prisma_protocol import parse_subscription
from pulse.stream.prisma_values import FrameEncoder, datetime_text, value_encoder
from tests.pulse.prisma_oracle import COLUMNS, SUBSCRIPTION_MODEL, RecordsTable, record_model

MODEL = record_model()
ENCODER = FrameEncoder(MODEL)
FIELD_OF = {field.column: field.name for field in MODEL.scalar_fields}

ROW = {
    "id": 1,
    "text": "héllo \"'\\",
    "int": -2147483648,
    "big": 9007199254740993,
    "float": 1.5,
    "decimal": Decimal("12.3400"),
    "bool": True,
    "mood": "SAD",
    "at_ts": dt.datetime(2025, 5, 1, 12, 0, 0, 123000),
    "day": dt.date(2025, 5, 1),
    "json": {"a": [1, 2.5, None], "$type": "DateTime", "value": "not a date"},
    "bytes": b"\x00\x01\xff",
    "texts": ["a", None, 'b"c'],
    "ints": [1, None],
    "moods": ["HAPPY", "SAD"],
    "ats": [dt.datetime(2025, 5, 1, 12, 0, 0, 1000)],
    "decimals": [Decimal("1.5"), None],
    "owner_id": 3,
}


def captured(conninfo: str, statements: list[Any], *, full: bool = True) -> list[tuple[str, str]]:
    """(action, payload text) of each change the statements (SQL, or callables) make, as the
    capture worker logs them."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        if full:
            conn.execute("ALTER TABLE pulse_records REPLICA IDENTITY FULL")
        conn.execute("CREATE PUBLICATION test_pub FOR ALL TABLES")
        conn.execute("SELECT pg_create_logical_replication_slot('test_slot', 'pgoutput')")
        for statement in statements:
            if callable(statement):
                statement()
            else:
                conn.execute(statement)
        rows = conn.execute(
            "SELECT data FROM pg_logical_slot_get_binary_changes('test_slot', NULL, NULL, "
            "'proto_version', '1', 'publication_names', 'test_pub')"
        ).fetchall()
        decoder = TransactionDecoder(conn)
        events = []
        for (data,) in rows:
            transaction = decoder.feed(data)
            if transaction is not None:
                events += [(event.action, event.payload) for event in transaction.events]
    return events


@pytest.fixture
def table(source_database):
    records = RecordsTable(source_database)
    records.connection.execute("INSERT INTO pulse_owners VALUES (3)")
    yield records
    records.close()


def test_a_captured_row_becomes_the_frame_the_extension_expects(table, source_database):
    [(action, payload)] = captured(source_database, [lambda: table.replace([ROW])])
    # The tests below read rows with SELECT instead of a slot: the log holds the same.
    assert (action, json.loads(payload)) == ("create", {"created": table.logged()[1]})
    frame = json.loads(ENCODER.frame(1042, action, payload))
    assert frame == {
        "id": "1042",
        "modelName": "Record",
        "action": "create",
        "created": {
            "id": 1,
            "text": "héllo \"'\\",
            "int": -2147483648,
            "big": {"$type": "BigInt", "value": "9007199254740993"},
            "float": 1.5,
            "decimal": {"$type": "Decimal", "value": "12.340000000000000000000000000000"},
            "bool": True,
            "mood": "SAD",
            "at": {"$type": "DateTime", "value": "2025-05-01T12:00:00.123Z"},
            "day": {"$type": "DateTime", "value": "2025-05-01T00:00:00.000Z"},
            "json": {
                "$type": "Json",
                "value": '{"a":[1,2.5,null],"$type":"DateTime","value":"not a date"}',
            },
            "bytes": {"$type": "Bytes", "value": "AAH/"},
            "texts": ["a", None, 'b"c'],
            "ints": [1, None],
            "moods": ["HAPPY", "SAD"],
            "ats": [{"$type": "DateTime", "value": "2025-05-01T12:00:00.001Z"}],
            "decimals": [{"$type": "Decimal", "value": "1.500000000000000000000000000000"}, None],
            "ownerId": 3,
        },
    }


def test_inserts_updates_and_deletes_captured_by_pgoutput_become_frames(table, source_database):
    events = captured(
        source_database,
        [
            "INSERT INTO pulse_records (id, text, at_ts, moods, owner_id, big) "
            "VALUES (1, 'a', '2025-05-01 12:00:00.5', '{HAPPY,SAD}', 3, 1)",
            "UPDATE pulse_records SET text = 'b', big = NULL WHERE id = 1",
            "DELETE FROM pulse_records WHERE id = 1",
            "TRUNCATE pulse_records CASCADE",
        ],
    )
    assert [action for action, _ in events] == ["create", "update", "delete", "truncate"]
    frames = [ENCODER.frame(i, action, payload) for i, (action, payload) in enumerate(events, 1)]
    create, update, delete, truncate = (None if f is None else json.loads(f) for f in frames)
    row = {
        "id": 1, "text": "a", "int": None, "big": {"$type": "BigInt", "value": "1"}, "float": None,
        "decimal": None, "bool": None, "mood": None,
        "at": {"$type": "DateTime", "value": "2025-05-01T12:00:00.500Z"},
        "day": None, "json": None, "bytes": None, "texts": None, "ints": None, "moods": ["HAPPY", "SAD"],
        "ats": None, "decimals": None, "ownerId": 3,
    }  # fmt: skip
    assert create == {"id": "1", "modelName": "Record", "action": "create", "created": row}
    after = {**row, "text": "b", "big": None}
    assert update == {"id": "2", "modelName": "Record", "action": "update", "after": after, "before": row}
    assert delete == {"id": "3", "modelName": "Record", "action": "delete", "deleted": after}
    assert truncate is None  # the extension has no truncate event: it would fail on one


def test_without_replica_identity_full_the_frame_carries_what_the_log_has(table, source_database):
    big = json.dumps({"big": "".join(f"{i:x}" for i in range(60_000))})  # stored out of line (TOAST)
    events = [
        (action, json.loads(payload))
        for action, payload in captured(
            source_database,
            [
                "INSERT INTO pulse_records (id, text) VALUES (1, 'a')",
                f"UPDATE pulse_records SET json = '{big}'::jsonb",  # noqa: S608 - a fixed test value
                "UPDATE pulse_records SET text = 'b'",
                "DELETE FROM pulse_records",
            ],
            full=False,
        )
    ]
    assert events[2][1]["unchanged"] == ["json"]
    toasted = ENCODER.event(3, *events[2])
    assert toasted is not None
    assert "json" not in toasted["after"] and toasted["after"]["text"] == "b"  # unchanged, not in the WAL
    assert "before" not in toasted
    assert ENCODER.event(4, *events[3]) == {
        "id": "4",
        "modelName": "Record",
        "action": "delete",
        "deleted": {"id": 1},
    }


# What the extension makes of a frame, in Python ------------------------------------------------------


def decode_like_the_extension(value: Any) -> Any:
    """@prisma/extension-pulse's deserializeJsonResponse, for created/after/deleted."""
    if isinstance(value, list):
        return [decode_like_the_extension(item) for item in value]
    if isinstance(value, dict):
        if isinstance(value.get("$type"), str):
            tag, raw = value["$type"], value["value"]
            decoders: dict[str, Any] = {
                "BigInt": int,
                "Bytes": base64.b64decode,
                "DateTime": lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00")),
                "Decimal": Decimal,
                "Json": json.loads,
            }
            return decoders.get(tag, lambda text: text)(raw)
        return {key: decode_like_the_extension(item) for key, item in value.items()}
    return value


def expected_value(column: str, value: Any) -> Any:
    """What Prisma Client holds for a value psycopg read: UTC instants at millisecond precision."""
    if value is None:
        return None
    if isinstance(value, list):
        return [expected_value(column, item) for item in value]
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000, tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_nan() and b.is_nan():
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


texts = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
instants = st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)).map(
    lambda v: v.replace(microsecond=v.microsecond // 1000 * 1000)
)
decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20
) | st.just(Decimal("NaN"))
VALUES = {
    "text": texts,
    "int": st.integers(-(2**31), 2**31 - 1),
    "big": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(allow_subnormal=False),
    "decimal": decimals,
    "bool": st.booleans(),
    "mood": st.sampled_from(["HAPPY", "SAD", "MEH"]),
    "at_ts": instants,
    "day": st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    "json": json_values.filter(lambda v: v is not None),
    "bytes": st.binary(max_size=8),
    "texts": st.lists(st.none() | texts, max_size=3),
    "ints": st.lists(st.none() | st.integers(-(2**31), 2**31 - 1), max_size=3),
    "moods": st.lists(st.none() | st.sampled_from(["HAPPY", "SAD", "MEH"]), max_size=3),
    "ats": st.lists(st.none() | instants, max_size=3),
    "decimals": st.lists(st.none() | decimals, max_size=3),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    row=st.fixed_dictionaries({}, optional={name: st.none() | strategy for name, strategy in VALUES.items()})
)
def test_every_value_reaches_the_application_as_postgresql_holds_it(table, row):
    table.replace([{"id": 1, **row}])
    logged = table.logged()[1]
    frame = json.loads(ENCODER.frame(7, "create", {"created": logged}))
    created = decode_like_the_extension(frame["created"])
    # (psycopg does not know the enum's array type: read it as text[])
    columns = ", ".join(f'"{c}"::text[]' if c == "moods" else f'"{c}"' for c in COLUMNS)
    cursor = table.connection.execute(f"SELECT {columns} FROM pulse_records")  # noqa: S608 - fixed names
    stored = dict(zip(COLUMNS, cursor.fetchone(), strict=True))
    for column, value in stored.items():
        field = FIELD_OF[column]
        want = expected_value(column, value)
        if column == "float" and value is not None and not math.isfinite(value):
            want = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}[
                str(value)
            ]  # JSON has no such numbers
        assert same(created[field], want), (field, created[field], want)
    assert set(created) == {f.name for f in MODEL.scalar_fields}


# Pieces -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logged", "iso"),
    [
        ("2025-05-01T12:00:00", "2025-05-01T12:00:00.000Z"),
        ("2025-05-01T12:00:00.123456", "2025-05-01T12:00:00.123Z"),
        ("2025-05-01T12:00:00.999999+02:00", "2025-05-01T10:00:00.999Z"),
        ("2025-05-01T00:30:00-01:00", "2025-05-01T01:30:00.000Z"),
        ("0001-01-01T00:00:00", "0001-01-01T00:00:00.000Z"),
        ("2025-05-01", "2025-05-01T00:00:00.000Z"),
        ("12:30:00.25", "1970-01-01T12:30:00.250Z"),
        ("01:00:00+02:00", "1970-01-01T23:00:00.000Z"),
        ("23:00:00-02:00", "1970-01-01T01:00:00.000Z"),
        ("infinity", "infinity"),
    ],
)
def test_dates_and_times_become_utc_instants_new_date_reads(logged, iso):
    assert datetime_text(logged) == iso


def field(name: str, type_: str, kind: str = "scalar", **extra: Any):
    header = {"model": {"fields": [{"name": name, "kind": kind, "type": type_, **extra}]}, "modelName": "M"}
    return parse_subscription(json.dumps(header)).model.fields[name]


def test_values_of_other_column_types_are_converted_to_the_declared_prisma_type():
    assert value_encoder(field("n", "Int"))("42") == 42  # an int8 column declared Int
    assert value_encoder(field("n", "Float"))("1.25") == 1.25  # a numeric column declared Float
    assert value_encoder(field("n", "Float"))("NaN") == "NaN"  # JSON has no NaN: left as the log has it
    assert value_encoder(field("n", "BigInt"))(7) == {"$type": "BigInt", "value": "7"}
    assert value_encoder(field("n", "Decimal"))(0.1) == {"$type": "Decimal", "value": "0.1"}
    assert value_encoder(field("n", "String"))("0a3e…") == "0a3e…"  # uuid, inet, citext…


def test_a_json_array_is_one_json_value_unless_the_client_says_the_field_is_a_list():
    assert value_encoder(field("j", "Json"))([1, {"a": 2}]) == {"$type": "Json", "value": '[1,{"a":2}]'}
    assert value_encoder(field("j", "Json", isList=True))([1, None]) == [
        {"$type": "Json", "value": "1"},
        None,
    ]


def test_enum_arrays_logged_as_text_become_lists_of_labels():
    moods = value_encoder(field("m", "Mood", kind="enum"))
    assert moods('{HAPPY,"A B",NULL}') == ["HAPPY", "A B", None]
    assert moods("HAPPY") == "HAPPY"
    assert value_encoder(field("m", "Mood", kind="enum", isList=False))("{HAPPY}") == "{HAPPY}"


def test_relations_and_columns_the_model_does_not_name_are_left_out():
    event = ENCODER.event(
        5, "create", {"created": {"id": 1, "owner_id": 2, "secret_column": "x", "owner": 1}}
    )
    assert event == {"id": "5", "modelName": "Record", "action": "create", "created": {"id": 1, "ownerId": 2}}


def test_an_update_without_the_old_row_has_no_before():
    event = ENCODER.event(6, "update", {"before": None, "after": {"id": 1}})
    assert event == {"id": "6", "modelName": "Record", "action": "update", "after": {"id": 1}}


def test_the_subscription_fixture_is_what_the_extension_sent_for_the_test_model():
    assert [f["name"] for f in SUBSCRIPTION_MODEL["model"]["fields"]][:3] == ["id", "text", "int"]
    assert MODEL.log_model_name == "pulse_records"
    assert MODEL.fields["at"].column == "at_ts" and MODEL.fields["owner"].kind == "object"
