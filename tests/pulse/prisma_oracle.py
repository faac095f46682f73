"""The reference for Pulse's Prisma filters: what PostgreSQL returns for the SQL Prisma generates.

- ``fixture()``: Prisma 7.10's own SQL for ~120 wheres on the test model
  (tests/pulse/fixtures/prisma_where_sql.json, made by tests/prisma/pulse/where_sql.mjs with the
  pinned client: its WHERE clause, its parameters, and the where as the extension serializes it).
- ``prisma_sql(wire)``: the same SQL, written here for any where, so that random filters can be
  checked too; ``test_prisma_filters`` proves it returns what Prisma's own SQL returns on the fixture.
- ``RecordsTable``: the test model's table as ``prisma migrate`` would create it, in a real
  database, with its rows read back the way the capture logs them (``console/pgjson.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from pulse.stream.prisma_protocol import PrismaModel, parse_subscription
from userdb.pgjson import row_encoder

FIXTURES = Path(__file__).parent / "fixtures"
TABLE = '"public"."pulse_records"'

# The subscription header @prisma/extension-pulse 1.2.2 sends for tests/prisma/pulse/schema.prisma's
# Record (captured on the wire with @prisma/client 7.10.0; the where is added per test).
SUBSCRIPTION_MODEL = json.loads((FIXTURES / "prisma_subscription_record.json").read_text())


def record_model() -> PrismaModel:
    return parse_subscription(json.dumps(SUBSCRIPTION_MODEL)).model


def fixture() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "prisma_where_sql.json").read_text())


# Prisma's PostgreSQL types for the schema (what `prisma migrate` creates).
DDL = """
CREATE TYPE "Mood" AS ENUM ('HAPPY', 'SAD', 'MEH');
CREATE TABLE pulse_owners (id integer PRIMARY KEY);
CREATE TABLE pulse_records (
    id integer PRIMARY KEY,
    text text,
    "int" integer,
    big bigint,
    "float" double precision,
    "decimal" decimal(65, 30),
    bool boolean,
    mood "Mood",
    at_ts timestamp(3),
    day date,
    json jsonb,
    bytes bytea,
    texts text[],
    ints integer[],
    moods "Mood"[],
    ats timestamp(3)[],
    decimals decimal(65, 30)[],
    owner_id integer REFERENCES pulse_owners (id)
);
"""
COLUMNS = [
    "id", "text", "int", "big", "float", "decimal", "bool", "mood", "at_ts", "day", "json", "bytes",
    "texts", "ints", "moods", "ats", "decimals", "owner_id",
]  # fmt: skip


def array_literal(values: list[Any]) -> str:
    """A PostgreSQL array literal (sent as an untyped parameter, as Prisma's driver does)."""
    items = []
    for value in values:
        if value is None:
            items.append("NULL")
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            items.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(items) + "}"


class RecordsTable:
    """pulse_records in a database of the test's own; rows in, rows out as the log holds them."""

    def __init__(self, conninfo: str) -> None:
        self.connection = psycopg.connect(conninfo, autocommit=True)
        self.connection.execute(DDL)

    def close(self) -> None:
        self.connection.close()

    def replace(self, rows: list[dict[str, Any]]) -> None:
        with self.connection.transaction():
            self.connection.execute("DELETE FROM pulse_records")
            for row in rows:
                names = list(row)
                params = [self._param(name, row[name]) for name in names]
                self.connection.execute(
                    sql.SQL("INSERT INTO pulse_records ({}) VALUES ({})").format(
                        sql.SQL(", ").join(sql.Identifier(name) for name in names),
                        sql.SQL(", ").join(sql.Placeholder() * len(names)),
                    ),
                    params,
                )

    @staticmethod
    def _param(name: str, value: Any) -> Any:
        if value is None:
            return None
        if name == "json":
            return psycopg.types.json.Jsonb(value)
        if name in ("texts", "ints", "moods", "ats", "decimals"):
            return array_literal([None if v is None else str(v) for v in value])
        if name == "float" and isinstance(value, float):
            return value
        if isinstance(value, Decimal | dt.datetime | dt.date):
            return str(value)
        return value

    def logged(self) -> dict[int, dict[str, Any]]:
        """Every row by id, as the capture would log it: column → pgjson value."""
        cursor = self.connection.execute(f"SELECT * FROM {TABLE} ORDER BY id")  # noqa: S608
        assert cursor.description is not None
        names = [column.name for column in cursor.description]
        encode = row_encoder([column.type_code for column in cursor.description])
        return {row[0]: dict(zip(names, encode(row), strict=True)) for row in cursor.fetchall()}

    def ids(self, clause: str, params: list[Any]) -> set[int]:
        """The ids of the rows ``WHERE clause`` returns; ``$n`` placeholders, Prisma's style."""
        text = re.sub(r"\$\d+", "%s", clause.replace("%", "%%"))
        query = f"SELECT id FROM {TABLE} WHERE {text}"  # noqa: S608
        return {row[0] for row in self.connection.execute(query, params).fetchall()}


def fixture_params(entry: dict[str, Any]) -> list[Any]:
    """Prisma's parameters as its PostgreSQL driver sends them: untyped text, arrays as literals,
    Bytes as bytes (the executor decodes the base64)."""
    params = []
    sql_text = entry["sql"]
    placeholders = re.findall(r"\$(\d+)", sql_text)
    for number, value in zip(placeholders, entry["params"], strict=True):
        column = _column_before(sql_text, number)
        if isinstance(value, list):
            params.append(array_literal(value))
        elif column == "bytes" and isinstance(value, str):
            import base64

            params.append(base64.b64decode(value))
        else:
            params.append(value)
    return params


def _column_before(text: str, number: str) -> str | None:
    index = text.find(f"${number}")
    found = re.findall(r'"pulse_records"\."(\w+)"', text[:index])
    return found[-1] if found else None


# Prisma's SQL, written here ---------------------------------------------------------------------

TAGS = {"BigInt", "Decimal", "DateTime", "Bytes", "Json"}


class PrismaSql:
    """The WHERE clause Prisma 7 generates for a where as the extension sends it (tagged values).

    Negated operators are written NOT (…) where Prisma writes the inverted operator (``<>``,
    ``NOT IN``, ``>=``…): the same under SQL's three-valued logic, which the fixture test confirms.
    """

    def __init__(self, model: PrismaModel) -> None:
        self.model = model
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def value(self, field_type: str, value: Any) -> Any:
        if isinstance(value, dict) and value.get("$type") in TAGS:
            raw = value["value"]
            if value["$type"] == "Bytes":
                import base64

                return base64.b64decode(raw)
            return raw
        if isinstance(value, bool) or field_type in ("Int", "Float"):
            return value
        return value

    def where(self, where: dict[str, Any]) -> str | None:
        parts: list[str] = []
        for key, value in where.items():
            if key == "AND":
                items = value if isinstance(value, list) else [value]
                parts.extend(p for p in (self.where(item) for item in items) if p is not None)
            elif key == "OR":
                kept = [p for p in (self.where(item) for item in value) if p is not None]
                parts.append("(" + " OR ".join(kept) + ")" if kept else "1=0")
            elif key == "NOT":
                items = value if isinstance(value, list) else [value]
                parts.extend(f"(NOT {p})" for p in (self.where(item) for item in items) if p is not None)
            else:
                part = self.field(key, value)
                if part is not None:
                    parts.append(part)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def field(self, name: str, spec: Any) -> str | None:
        field = self.model.fields[name]
        column = f'{TABLE}."{field.column}"'
        kind = field.value_type
        if kind == "Json":
            decoded = json.loads(spec["value"])
            if not isinstance(decoded, dict):
                decoded = {"equals": decoded}
            parts = []
            for op, operand in decoded.items():
                sign = "=" if op == "equals" else "<>"
                parts.append(f"{column}::jsonb {sign} {self.param(json.dumps(operand))}")
            return " AND ".join(parts) if parts else None
        if not isinstance(spec, dict) or spec.get("$type") in TAGS:
            return self.equals(column, kind, spec, insensitive=False)
        list_ops = {"has", "hasEvery", "hasSome", "isEmpty"}
        if list_ops & set(spec) or isinstance(spec.get("equals"), list):
            return self.list_ops(column, kind, spec)
        insensitive = spec.get("mode") == "insensitive"
        parts = self.ops(column, kind, spec, negated=False, insensitive=insensitive)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def equals(self, column: str, kind: str, value: Any, *, insensitive: bool) -> str:
        if value is None:
            return f"{column} IS NULL"
        if insensitive:
            return f"{column} ILIKE {self.param(value)}"
        return f"{column} = {self.param(self.value(kind, value))}"

    def ops(
        self, column: str, kind: str, spec: dict[str, Any], *, negated: bool, insensitive: bool
    ) -> list[str]:
        parts: list[str] = []
        for op, value in spec.items():
            if op == "mode":
                continue
            if op == "not":
                if isinstance(value, dict) and value.get("$type") not in TAGS:
                    parts.extend(self.ops(column, kind, value, negated=not negated, insensitive=insensitive))
                else:
                    parts.append(f"(NOT {self.equals(column, kind, value, insensitive=insensitive)})")
                continue
            part = self.op(column, kind, op, value, insensitive=insensitive)
            parts.append(f"(NOT {part})" if negated else part)
        return parts

    def op(self, column: str, kind: str, op: str, value: Any, *, insensitive: bool) -> str:
        if op == "equals":
            return self.equals(column, kind, value, insensitive=insensitive)
        if op in ("in", "notIn"):
            if value is None:
                return f"{column} IS {'NOT ' if op == 'notIn' else ''}NULL"
            if not value:
                return "1=1" if op == "notIn" else "1=0"
            target = f"LOWER({column})" if insensitive else column
            items = ",".join(self.param(self.value(kind, v)) for v in value)
            return f"{target} {'NOT ' if op == 'notIn' else ''}IN ({items})"
        if op in ("lt", "lte", "gt", "gte"):
            sign = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
            if insensitive:
                return f"LOWER({column}) {sign} LOWER({self.param(value)})"
            return f"{column} {sign} {self.param(self.value(kind, value))}"
        like = "ILIKE" if insensitive else "LIKE"
        target = column if insensitive else f"{column}::text"
        placeholder = self.param(value)
        pattern = {
            "contains": f"('%' || {placeholder} || '%')",
            "startsWith": f"({placeholder} || '%')",
            "endsWith": f"('%' || {placeholder})",
        }[op]
        return f"{target} {like} {pattern}"

    def list_ops(self, column: str, kind: str, spec: dict[str, Any]) -> str | None:
        parts = []
        for op, value in spec.items():
            if op == "isEmpty":
                parts.append(f"{column} {'=' if value else '<>'} '{{}}'")
            elif op == "equals" and value is None:
                parts.append(f"{column} IS NULL")
            elif op == "equals":
                parts.append(f"{column} = {self.param(self.array(kind, value))}")
            elif op == "has":
                parts.append(f"{column} @> {self.param(self.array(kind, [value]))}")
            elif op == "hasEvery":
                parts.append(f"{column} @> {self.param(self.array(kind, value))}")
            else:
                parts.append(f"{column} && {self.param(self.array(kind, value))}")
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def array(self, kind: str, values: list[Any]) -> str:
        return array_literal([None if v is None else self.value(kind, v) for v in values])


def prisma_sql(model: PrismaModel, wire: dict[str, Any]) -> tuple[str, list[Any]]:
    writer = PrismaSql(model)
    clause = writer.where(wire)
    return ("1=1" if clause is None else clause), writer.params
