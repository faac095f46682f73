"""PostgreSQL values to JSON, one mapping for Accelerate results and Pulse events.

Values arrive as the Python objects psycopg loads (the gateway's result rows, and
Pulse's pgoutput text values loaded through the same psycopg loaders), and are
encoded by the column's type OID:

| PostgreSQL | JSON |
| --- | --- |
| int2, int4, oid, float4, float8 | number (NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity") |
| int8, numeric, money | string: JSON numbers lose precision past 2^53 |
| bool | true / false |
| timestamp, timestamptz, date, time, timetz | ISO 8601 string |
| interval | ISO 8601 duration string (``P1DT2H30M``) |
| uuid, inet, cidr, text and every other type | string |
| json, jsonb | the JSON value itself |
| bytea | base64 string |
| arrays of any of these | arrays, element by element (nested for multi-dimensional) |
| NULL | null |
"""

from __future__ import annotations

import base64
import datetime as dt
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from psycopg.postgres import types as pg_types

Encoder = Callable[[Any], Any]

INT8, NUMERIC, MONEY = 20, 1700, 790
NUMBER_OIDS = frozenset({21, 23, 26})  # int2, int4, oid
FLOAT_OIDS = frozenset({700, 701})
BOOL, BYTEA, JSON, JSONB, INTERVAL = 16, 17, 114, 3802, 1186
TEMPORAL_OIDS = frozenset({1114, 1184, 1082, 1083, 1266})

# array type OID -> element type OID, from psycopg's registry of built-in types
ARRAY_ELEMENT: dict[int, int] = {info.array_oid: info.oid for info in pg_types if info.array_oid}


def _as_is(value: Any) -> Any:
    return value


def _as_string(value: Any) -> str:
    return str(value)


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _temporal(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)


def _interval(value: Any) -> str:
    if not isinstance(value, dt.timedelta):
        return str(value)
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    days, seconds, micros = value.days, value.seconds, value.microseconds
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if secs or micros:
        time += f"{secs}.{micros:06d}".rstrip("0").rstrip(".") + "S"
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    if time:
        out += f"T{time}"
    return out if out not in ("P", "-P") else "PT0S"


def _bytea(value: Any) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _array(element: Encoder) -> Encoder:
    def encode(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [encode(item) for item in value]
        return element(value)

    return encode


@cache
def encoder_for(oid: int) -> Encoder:
    """The function that turns a non-null value of this type into its JSON value."""
    if oid in ARRAY_ELEMENT:
        return _array(encoder_for(ARRAY_ELEMENT[oid]))
    if oid in NUMBER_OIDS or oid == BOOL:
        return _as_is
    if oid in FLOAT_OIDS:
        return _float
    if oid in (JSON, JSONB):
        return _as_is
    if oid in TEMPORAL_OIDS:
        return _temporal
    if oid == INTERVAL:
        return _interval
    if oid == BYTEA:
        return _bytea
    return _as_string  # int8, numeric, money, uuid, text, enums, and anything we do not know


def row_encoder(oids: Sequence[int]) -> Callable[[Sequence[Any]], list[Any]]:
    """An encoder for whole rows of these column types (NULL stays null)."""
    encoders = [encoder_for(oid) for oid in oids]

    def encode(row: Sequence[Any]) -> list[Any]:
        return [None if value is None else encoders[i](value) for i, value in enumerate(row)]

    return encode
