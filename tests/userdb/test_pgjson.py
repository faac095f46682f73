"""The type mapping, checked against values a real PostgreSQL server returns."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.db import connection

from userdb.pgjson import row_encoder

pytestmark = pytest.mark.django_db

CASES = [
    ("1::int2", 1),
    ("2147483647::int4", 2147483647),
    ("9007199254740993::int8", "9007199254740993"),  # 2^53 + 1 survives as a string
    ("12345678901234567890.123456789::numeric", "12345678901234567890.123456789"),
    ("1.50::numeric(6,2)", "1.50"),
    ("1.5::float8", 1.5),
    ("'NaN'::float8", "NaN"),
    ("'-Infinity'::float4", "-Infinity"),
    ("true", True),
    ("'héllo'::text", "héllo"),
    ("'2026-11-26 12:30:00+00'::timestamptz", "2026-11-26T12:30:00+00:00"),
    ("'2026-11-26 12:30:00.25'::timestamp", "2026-11-26T12:30:00.250000"),
    ("'2026-11-26'::date", "2026-11-26"),
    ("'12:30:05'::time", "12:30:05"),
    ("'1 day 2 hours 30 minutes 1.5 seconds'::interval", "P1DT2H30M1.5S"),
    ("'0'::interval", "PT0S"),
    ("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    ("""'{"a": [1, 2.5, null]}'::jsonb""", {"a": [1, 2.5, None]}),
    ("'[1, \"x\"]'::json", [1, "x"]),
    ("'\\x00ff10'::bytea", "AP8Q"),
    ("ARRAY[1, 2, NULL]::int8[]", ["1", "2", None]),
    ("ARRAY[[1, 2], [3, 4]]::int4[]", [[1, 2], [3, 4]]),
    ("ARRAY['2026-01-01'::date]", ["2026-01-01"]),
    ("'10.0.0.1/32'::inet", "10.0.0.1"),
    ("NULL::int4", None),
    ("12.5::money", "$12.50"),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0] for c in CASES])
def test_postgres_values_map_to_the_documented_json(sql, expected):
    connection.ensure_connection()
    # A plain psycopg connection, as the gateway uses (Django's own adapts JSON differently).
    params = {
        k: v for k, v in connection.get_connection_params().items() if k not in {"context", "cursor_factory"}
    }
    with psycopg.connect(**params) as conn, conn.cursor() as cursor:
        cursor.execute(f"SELECT {sql}")  # noqa: S608 - fixed test expressions
        oids = [column.type_code for column in cursor.description or []]
        row = cursor.fetchone()
    encoded = row_encoder(oids)(row)
    assert encoded == [expected]
    json.dumps(encoded, allow_nan=False)  # always valid JSON
