"""Logged events as ``@prisma/extension-pulse`` expects them: the model's field names, tagged values.

The log stores each row by column name with the JSON values of ``console/pgjson.py`` (int8 and
numeric as strings, timestamps ISO 8601 without a zone for ``timestamp``, bytea base64, json as
JSON). The extension turns ``created`` / ``after`` / ``deleted`` into the application's objects
with Prisma's JSON protocol tags (its ``deserializeJsonResponse``):

| Prisma type | on the wire | in the application |
| --- | --- | --- |
| DateTime | ``{"$type":"DateTime","value":"2025-05-01T12:00:00.123Z"}`` | ``Date`` |
| BigInt | ``{"$type":"BigInt","value":"9007199254740993"}`` | ``bigint`` |
| Decimal | ``{"$type":"Decimal","value":"12.3400"}`` | ``Prisma.Decimal`` |
| Bytes | ``{"$type":"Bytes","value":"<base64>"}`` | ``Buffer`` |
| Json | ``{"$type":"Json","value":"<JSON text>"}`` | the parsed value |
| Int, Float, String, Boolean, enums | as they are | number, string, boolean |
| lists | arrays of the above | arrays |

Everything is under the model's field names (a ``@map``-ped column under its field), relation
fields and columns the model does not name are left out, and so is a field whose column the
event does not carry (a key-only ``deleted``; a TOASTed value an update did not change).

DateTime values are UTC instants at millisecond precision, as ``Date`` holds them: a
``timestamp`` column is read as UTC (Prisma's convention), a ``date`` column as UTC midnight, a
``time`` column as that time on 1970-01-01 UTC (how Prisma returns ``@db.Time``). A Float that
is NaN or infinite stays the string the log has ("NaN", "Infinity"): JSON cannot carry it and
the extension has no tag for it. The extension decodes only ``created``, ``after`` and
``deleted``; ``before`` reaches the application as sent (tagged), and is sent only when the log
has it (``REPLICA IDENTITY FULL``, or a changed key).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pulse.stream.prisma_protocol import PrismaField, PrismaModel, enum_list

RECORD_OF = {"create": "created", "update": "after", "delete": "deleted"}
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_INTEGER = re.compile(r"-?\d+")


def _iso_utc(moment: dt.datetime) -> str:
    moment = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
    # %Y is not zero-padded below the year 1000 on every platform
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def datetime_text(value: str) -> str:
    """A logged date, time or timestamp as the ISO instant ``new Date()`` reads as Prisma returns it."""
    try:
        if "T" in value or " " in value:
            return _iso_utc(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        if ":" in value:
            clock = dt.time.fromisoformat(value)
            moment = dt.datetime.combine(dt.date(1970, 1, 1), clock.replace(tzinfo=None), tzinfo=dt.UTC)
            offset = clock.utcoffset()
            if offset is not None:
                moment -= offset
                moment = moment.replace(year=1970, month=1, day=1)  # the time of day in UTC
            return _iso_utc(moment)
        return _iso_utc(dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC))
    except ValueError:
        return value  # not a date we know (the application gets an Invalid Date, not a wrong one)


def _datetime(value: Any) -> Any:
    return {"$type": "DateTime", "value": datetime_text(value) if isinstance(value, str) else value}


def _bigint(value: Any) -> Any:
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {"$type": "BigInt", "value": str(value)}
    return value


def _decimal(value: Any) -> Any:
    if isinstance(value, float):
        value = repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, int | str) and not isinstance(value, bool):
        return {"$type": "Decimal", "value": str(value)}
    return value


def _bytes(value: Any) -> Any:
    return {"$type": "Bytes", "value": value} if isinstance(value, str) else value


def _json(value: Any) -> Any:
    return {"$type": "Json", "value": _dumps(value)}


def _int(value: Any) -> Any:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return value


def _float(value: Any) -> Any:
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        try:
            number = float(Decimal(value))
        except (InvalidOperation, ValueError):
            return value
        return number if math.isfinite(number) else value
    return value


def _as_is(value: Any) -> Any:
    return value


_TAGGERS: dict[str, Callable[[Any], Any]] = {
    "DateTime": _datetime,
    "BigInt": _bigint,
    "Decimal": _decimal,
    "Bytes": _bytes,
    "Json": _json,
    "Int": _int,
    "Float": _float,
}


def value_encoder(field: PrismaField) -> Callable[[Any], Any]:
    """The function that turns a logged value of this field into its wire value (null stays null)."""
    element = _TAGGERS.get(field.type, _as_is) if field.kind == "scalar" else _as_is
    json_field = field.kind == "scalar" and field.type == "Json"
    enum_field = field.kind == "enum" and field.is_list is not False

    def encode(value: Any) -> Any:
        if value is None:
            return None
        if enum_field and isinstance(value, str) and (labels := enum_list(value)) is not None:
            return labels  # an enum array, logged as its text {A,B}
        if isinstance(value, list) and (not json_field or field.is_list):
            # A list field (a Json field's array is one Json value, unless the client says it is
            # a list: Prisma 7 does not say, and a Json[] arrives as one Json array, decoded alike).
            return [None if item is None else element(item) for item in value]
        return element(value)

    return encode


class FrameEncoder:
    """Frames for one subscription's model: the column → field mapping and encoders, made once."""

    def __init__(self, model: PrismaModel) -> None:
        self.model = model
        self.columns: list[tuple[str, str, Callable[[Any], Any]]] = [
            (field.column, field.name, value_encoder(field)) for field in model.scalar_fields
        ]

    def record(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A logged row (columns → JSON values) as the model's fields → wire values."""
        return {name: encode(row[column]) for column, name, encode in self.columns if column in row}

    def event(self, event_id: int, action: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """The frame's object for a logged event, or None for an action the extension has no event
        for (``truncate``: it would hand the application an undefined event and fail)."""
        key = RECORD_OF.get(action)
        if key is None:
            return None
        row = payload.get(key)
        frame: dict[str, Any] = {"id": str(event_id), "modelName": self.model.name, "action": action}
        frame[key] = self.record(row) if isinstance(row, Mapping) else None
        if action == "update":
            before = payload.get("before")
            if isinstance(before, Mapping):
                frame["before"] = self.record(before)
        return frame

    def frame(self, event_id: int, action: str, payload: Mapping[str, Any] | str) -> str | None:
        """The text frame for a logged event (``payload`` as stored, or its JSON text), or None."""
        if isinstance(payload, str):
            payload = json.loads(payload)
            if not isinstance(payload, Mapping):
                raise ValueError("a logged payload is a JSON object")
        event = self.event(event_id, action, payload)
        return None if event is None else _dumps(event)
