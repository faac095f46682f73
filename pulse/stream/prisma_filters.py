"""Prisma's ``create`` / ``update`` / ``delete`` filters, evaluated on the server (pure Python).

(Over 400 lines on purpose: the parser, the per-type comparisons and the three-valued evaluator
implement one table of semantics, tested together against PostgreSQL as the oracle; split, each
piece would only make sense next to the others.)

``@prisma/extension-pulse`` sends ``stream({ name, create: {…}, update: { after: {…} }, delete: {…} })``
in the ``subscription`` header's ``where``: Prisma's ``where`` syntax for the model's scalar fields,
with DateTime, BigInt, Decimal, Bytes and Json values tagged (``{"$type":"DateTime","value":…}``).
``compile_subscription_filter`` checks it against the model's fields (``prisma_protocol``) and
refuses, with the path of the offending part, anything it cannot evaluate exactly; the compiled
``SubscriptionFilter.matches(action, payload)`` then decides each logged event.

The semantics are PostgreSQL's for the SQL that Prisma 7 generates for the same ``where`` in a
``findMany`` (read from its query plans; docs/pulse-prisma-protocol.md has the table):

- SQL's three-valued logic: a condition on NULL is unknown, NOT unknown is unknown, and only a
  filter that is true delivers the event. So ``{ name: { not: "x" } }`` (``name <> 'x'``) does not
  deliver a row whose name is NULL, exactly as ``findMany`` would not return it.
- A column that is not in the event (a delete without ``REPLICA IDENTITY FULL`` carries only the
  key; an unchanged TOASTed value is left out of ``after``) is unknown too, even for ``null`` checks.
- ``contains`` / ``startsWith`` / ``endsWith`` are ``LIKE '%' || value || '%'``: Prisma does not
  escape ``%`` and ``_`` in the value, so they are wildcards, and ``\\`` escapes. With
  ``mode: "insensitive"`` they are ``ILIKE``, and so is ``equals`` (wildcards included);
  ``in`` / ``notIn`` compare ``LOWER(column)`` with the values as given; ``lt``…``gte`` compare
  ``LOWER`` of both. Lower case is Unicode's (as in a UTF-8 locale); strings order by code point
  (the "C" collation).
- ``not: value`` is ``<> value`` (``IS NOT NULL`` for null) wherever it appears; ``not: { … }``
  negates each condition inside it, and the conditions are ANDed (``not: { gt: 1, lt: 5 }`` is
  ``<= 1 AND >= 5``, as Prisma generates it). ``NOT: [a, b]`` is ``NOT a AND NOT b``.
- An empty filter (``{}``, ``AND: []``, ``NOT: []``) is no condition and is dropped, even inside
  ``OR``: ``OR: [{}, { id: 1 }]`` is ``id = 1``; ``OR: []`` is false. ``in: []`` is false and
  ``notIn: []`` true, whatever the column holds.
- Float and Decimal follow PostgreSQL: NaN equals NaN and is greater than every number.
- DateTime: a ``timestamp`` column is UTC; a ``date`` column compares with the filter's UTC date,
  a ``time`` column with its UTC time of day (PostgreSQL casts the parameter to the column's type).
- Json: ``equals`` and ``not`` only, as jsonb equality (key order does not matter, ``1`` equals
  ``1.0``). The log does not tell a JSON ``null`` from a database NULL: ``equals: null`` matches
  both, ``not: null`` neither.
- Lists: ``equals`` (element by element, NULL elements equal), ``has`` / ``hasEvery`` /
  ``hasSome`` (``@>`` / ``&&``: NULL elements never match) and ``isEmpty``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pulse.stream.prisma_protocol import PrismaField, PrismaModel, PulseRefusal, bad_subscription, enum_list

Truth = bool | None  # SQL's three values: None is unknown
Predicate = Callable[[Mapping[str, Any]], Truth]

ACTIONS = ("create", "update", "delete")
RECORD_OF = {"create": "created", "update": "after", "delete": "deleted"}
MAX_DEPTH = 32
MAX_NODES = 2000

NUMERIC = frozenset({"Int", "BigInt", "Float", "Decimal", "DateTime"})
ORDERED_OPS = ("lt", "lte", "gt", "gte")
STRING_OPS = ("contains", "startsWith", "endsWith")
LIST_OPS = frozenset({"has", "hasEvery", "hasSome", "isEmpty"})
# What Prisma's filter inputs offer each type (a list field: equals, has, hasEvery, hasSome, isEmpty).
SCALAR_OPS: dict[str, frozenset[str]] = {
    "String": frozenset({"equals", "in", "notIn", *ORDERED_OPS, *STRING_OPS, "mode", "not"}),
    **{t: frozenset({"equals", "in", "notIn", *ORDERED_OPS, "not"}) for t in NUMERIC},
    "Boolean": frozenset({"equals", "not"}),
    "enum": frozenset({"equals", "in", "notIn", "not"}),
    "Bytes": frozenset({"equals", "in", "notIn", "not"}),
}
# Prisma's Json filter keys other than equals/not: refused, never ignored.
JSON_FILTER_KEYS = frozenset(
    {
        "path",
        "string_contains",
        "string_starts_with",
        "string_ends_with",
        "array_contains",
        "array_starts_with",
        "array_ends_with",
        "lt",
        "lte",
        "gt",
        "gte",
        "mode",
    }
)
MODES = ("default", "insensitive")


class FilterError(PulseRefusal):
    """A filter the server refuses at the handshake (P6100 with ``reason`` and ``path`` in details)."""

    def __init__(self, path: str, message: str) -> None:
        where = f" (at {path})" if path else ""
        super().__init__("P6100", f"Unsupported filter{where}: {message}", reason="invalid_filter", path=path)
        self.path = path


# Three-valued logic --------------------------------------------------------------------------------


def _and(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def evaluate(record: Mapping[str, Any]) -> Truth:
        unknown = False
        for predicate in predicates:
            value = predicate(record)
            if value is False:
                return False
            if value is None:
                unknown = True
        return None if unknown else True

    return evaluate


def _or(predicates: list[Predicate]) -> Predicate:
    if len(predicates) == 1:
        return predicates[0]

    def evaluate(record: Mapping[str, Any]) -> Truth:
        unknown = False
        for predicate in predicates:
            value = predicate(record)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return evaluate


def _not(predicate: Predicate) -> Predicate:
    def evaluate(record: Mapping[str, Any]) -> Truth:
        value = predicate(record)
        return None if value is None else not value

    return evaluate


def _constant(value: bool) -> Predicate:
    return lambda record: value


# Values --------------------------------------------------------------------------------------------

MISSING: Any = object()  # the column is not in the event
BAD: Any = object()  # the value is not of the field's type (e.g. a list where a scalar was declared)


def _tag(value: Any) -> tuple[str, Any] | None:
    if isinstance(value, dict) and set(value) == {"$type", "value"} and isinstance(value["$type"], str):
        return value["$type"], value["value"]
    return None


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _parse_instant(text: str) -> dt.datetime:
    return _utc(dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    raise TypeError


def _float_key(value: float) -> tuple[int, float]:
    return (1, 0.0) if math.isnan(value) else (0, value)


def _decimal_key(value: Decimal) -> tuple[int, Decimal]:
    return (1, Decimal(0)) if value.is_nan() else (0, value)


def _json_key(value: Any) -> Any:
    """A hashable key under which two JSON values are equal exactly when jsonb says so."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_json_key(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))
    raise TypeError


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A temporal value from the log, by the kind of column it came from.
Temporal = tuple[Literal["date", "time", "timetz", "naive", "aware"], Any]


def _record_temporal(value: Any) -> Temporal:
    if not isinstance(value, str):
        raise TypeError
    if "T" in value or " " in value:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return ("naive", moment) if moment.tzinfo is None else ("aware", moment.astimezone(dt.UTC))
    if ":" in value:
        clock = dt.time.fromisoformat(value)
        if clock.tzinfo is None:
            return ("time", clock)
        offset = clock.utcoffset() or dt.timedelta(0)
        micros = (clock.hour * 3600 + clock.minute * 60 + clock.second) * 10**6 + clock.microsecond
        utc = (micros - int(offset.total_seconds() * 10**6)) % (86400 * 10**6)
        # PostgreSQL orders timetz by its UTC time, then by its zone (seconds west of UTC).
        return ("timetz", (utc, -int(offset.total_seconds())))
    return ("date", dt.date.fromisoformat(value))


def _temporal_of_filter(moment: dt.datetime, kind: str) -> Any:
    """The filter's instant as PostgreSQL casts it to the column's type (the ISO text is UTC)."""
    if kind == "date":
        return moment.date()
    if kind == "time":
        return moment.time().replace(tzinfo=None)
    if kind == "timetz":
        clock = moment.time()
        return ((clock.hour * 3600 + clock.minute * 60 + clock.second) * 10**6 + clock.microsecond, 0)
    if kind == "naive":
        return moment.replace(tzinfo=None)
    return moment


class _Type:
    """How one field's values are read from the log and from filters, and compared."""

    def __init__(self, field: PrismaField) -> None:
        self.field = field
        self.name = field.value_type

    # record side: a comparable key, or BAD
    def record_key(self, value: Any) -> Any:
        try:
            return self._record_key(value)
        except (TypeError, ValueError, ArithmeticError, binascii.Error):
            return BAD

    def _record_key(self, value: Any) -> Any:
        name = self.name
        if isinstance(value, list):
            raise TypeError
        if name in ("Int", "BigInt"):
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, int):
                return value
            if isinstance(value, str):
                return int(value)
            raise TypeError
        if name == "Float":
            return _float_key(_float(value))
        if name == "Decimal":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise TypeError
            return _decimal_key(Decimal(repr(value) if isinstance(value, float) else value))
        if name in ("String", "enum"):
            if not isinstance(value, str):
                raise TypeError
            return value
        if name == "Boolean":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if name == "DateTime":
            return _record_temporal(value)
        if name == "Bytes":
            if not isinstance(value, str):
                raise TypeError
            return base64.b64decode(value, validate=True)
        raise TypeError

    # filter side: the Python value, or FilterError
    def filter_value(self, value: Any, path: str) -> Any:
        name = self.name
        tag = _tag(value)
        problem = f"expected a {name} value, got {json.dumps(value)[:80]}"
        try:
            if name == "Int":
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
            elif name == "BigInt":
                raw = tag[1] if tag is not None and tag[0] == "BigInt" else value
                if isinstance(raw, int) and not isinstance(raw, bool):
                    return raw
                if isinstance(raw, str) and re.fullmatch(r"-?\d{1,20}", raw):
                    return int(raw)
            elif name == "Float":
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return _float_key(float(value))
            elif name == "Decimal":
                raw = tag[1] if tag is not None and tag[0] == "Decimal" else value
                if isinstance(raw, int | float | str) and not isinstance(raw, bool):
                    return _decimal_key(Decimal(repr(raw) if isinstance(raw, float) else raw))
            elif name in ("String", "enum"):
                if isinstance(value, str):
                    return value
            elif name == "Boolean":
                if isinstance(value, bool):
                    return value
            elif name == "DateTime":
                raw = tag[1] if tag is not None and tag[0] == "DateTime" else value
                if isinstance(raw, str):
                    return _parse_instant(raw)
            elif name == "Bytes" and tag is not None and tag[0] == "Bytes" and isinstance(tag[1], str):
                return base64.b64decode(tag[1], validate=True)
        except (ValueError, ArithmeticError, InvalidOperation, binascii.Error):
            raise FilterError(path, problem) from None
        raise FilterError(path, problem)

    # comparisons of a record key with a filter value
    def equal(self, key: Any, value: Any) -> bool:
        if self.name == "DateTime":
            kind, moment = key
            return bool(moment == _temporal_of_filter(value, kind))
        return bool(key == value)

    def compare(self, key: Any, value: Any) -> int:
        if self.name == "DateTime":
            kind, moment = key
            other = _temporal_of_filter(value, kind)
            return int(moment > other) - int(moment < other)
        return int(key > value) - int(key < value)


# LIKE ----------------------------------------------------------------------------------------------


def like_regex(pattern: str, *, insensitive: bool, path: str) -> re.Pattern[str]:
    """PostgreSQL's LIKE (ILIKE) pattern as a regular expression: ``%``, ``_``, ``\\`` escapes."""
    if insensitive:
        pattern = pattern.lower()
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise FilterError(path, "the pattern ends with a backslash, which escapes nothing")
            out.append(re.escape(escaped))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


# Compiling -----------------------------------------------------------------------------------------


class _Budget:
    def __init__(self) -> None:
        self.nodes = 0

    def spend(self, path: str, depth: int, count: int = 1) -> None:
        self.nodes += count
        if self.nodes > MAX_NODES:
            raise FilterError(path, f"the filter has more than {MAX_NODES} conditions and values")
        if depth > MAX_DEPTH:
            raise FilterError(path, f"the filter is nested more than {MAX_DEPTH} levels deep")


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _field_reader(field: PrismaField) -> Callable[[Mapping[str, Any]], Any]:
    column = field.column
    return lambda record: record.get(column, MISSING)


class _FieldCompiler:
    def __init__(self, field: PrismaField, path: str, budget: _Budget, depth: int) -> None:
        self.field = field
        self.type = _Type(field)
        self.path = path
        self.budget = budget
        self.depth = depth
        self.read = _field_reader(field)

    def fail(self, message: str, path: str | None = None) -> FilterError:
        return FilterError(self.path if path is None else path, message)

    # Entry -----------------------------------------------------------------------------------------

    def compile(self, spec: Any) -> Predicate | None:
        field = self.field
        if field.kind not in ("scalar", "enum"):
            raise self.fail(
                f"{field.name!r} is a relation; only the model's own scalar fields can be filtered"
            )
        if self.type.name == "Json":
            return self.json(spec)
        if self.type.name not in SCALAR_OPS:
            raise self.fail(f"fields of type {field.type} cannot be filtered")
        if isinstance(spec, dict) and _tag(spec) is None:
            self.budget.spend(self.path, self.depth, len(spec))
            if self.is_list_filter(spec):
                return self.list_filter(spec)
            if field.is_list:
                raise self.fail(f"{field.name!r} is a list: use equals, has, hasEvery, hasSome or isEmpty")
            mode = spec.get("mode", "default")
            if "mode" in spec and (self.type.name != "String" or mode not in MODES):
                raise self.fail(
                    "mode applies to String fields and is 'default' or 'insensitive'",
                    _join(self.path, "mode"),
                )
            predicates = self.scalar_ops(
                spec, self.path, negated=False, insensitive=mode == "insensitive", depth=self.depth
            )
            return _and(predicates) if predicates else None
        if isinstance(spec, list):
            raise self.fail("a list of values is not a filter: use { equals: [...] } for a list field")
        if field.is_list:
            raise self.fail(f"{field.name!r} is a list: use equals, has, hasEvery, hasSome or isEmpty")
        return self.equals(spec, self.path, insensitive=False)

    def is_list_filter(self, spec: dict[str, Any]) -> bool:
        listy = [op for op in spec if op in LIST_OPS or (op == "equals" and isinstance(spec[op], list))]
        if not listy:
            return False
        others = sorted(op for op in spec if op not in listy and op != "equals")
        if others:
            raise self.fail(
                f"list filters ({', '.join(sorted(listy))}) cannot be combined with {', '.join(others)}"
            )
        if self.field.is_list is False:
            raise self.fail(f"{self.field.name!r} is not a list: {', '.join(sorted(listy))} apply to lists")
        return True

    # Scalars ---------------------------------------------------------------------------------------

    def scalar_ops(
        self, ops: dict[str, Any], path: str, *, negated: bool, insensitive: bool, depth: int
    ) -> list[Predicate]:
        allowed = SCALAR_OPS[self.type.name]
        predicates: list[Predicate] = []
        for op, value in ops.items():
            op_path = _join(path, op)
            if op == "mode":
                if path != self.path:
                    raise self.fail("mode cannot be set inside not; set it next to not", op_path)
                continue
            if op not in allowed:
                raise self.fail(self.unknown_operator(op), op_path)
            if op == "not":
                if isinstance(value, dict) and _tag(value) is None:
                    self.budget.spend(op_path, depth + 1, len(value))
                    predicates.extend(
                        self.scalar_ops(
                            value, op_path, negated=not negated, insensitive=insensitive, depth=depth + 1
                        )
                    )
                else:
                    # `not: value` is `<> value` (IS NOT NULL) wherever it is, as Prisma generates it.
                    predicates.append(_not(self.equals(value, op_path, insensitive=insensitive)))
                continue
            predicate = self.scalar_op(op, value, op_path, insensitive=insensitive)
            predicates.append(_not(predicate) if negated else predicate)
        return predicates

    def unknown_operator(self, op: str) -> str:
        if op == "search":
            return "full-text search is not supported in Pulse filters"
        if op in LIST_OPS:
            return f"{op} applies to list fields"
        allowed = ", ".join(sorted(SCALAR_OPS[self.type.name] - {"mode"}))
        kind = "an enum" if self.type.name == "enum" else f"a {self.type.name}"
        return f"unknown operator {op!r} for {kind} field; supported: {allowed}"

    def scalar_op(self, op: str, value: Any, path: str, *, insensitive: bool) -> Predicate:
        if op == "equals":
            return self.equals(value, path, insensitive=insensitive)
        if op in ("in", "notIn"):
            if value is None:
                predicate = self.is_null()
                return _not(predicate) if op == "notIn" else predicate
            if not isinstance(value, list):
                raise self.fail(f"{op} takes a list of values", path)
            self.budget.spend(path, self.depth, len(value))
            if not value:
                return _constant(op == "notIn")
            if any(item is None for item in value):
                raise self.fail(f"{op} cannot hold null; use equals: null", path)
            predicate = self.member(
                [self.type.filter_value(v, _join(path, i)) for i, v in enumerate(value)], insensitive
            )
            return _not(predicate) if op == "notIn" else predicate
        if value is None:
            raise self.fail(f"{op} must not be null", path)
        if op in ORDERED_OPS:
            return self.ordered(op, self.type.filter_value(value, path), insensitive)
        if op in STRING_OPS:
            if not isinstance(value, str):
                raise self.fail(f"{op} takes a string", path)
            pattern = {"contains": f"%{value}%", "startsWith": f"{value}%", "endsWith": f"%{value}"}[op]
            return self.like(like_regex(pattern, insensitive=insensitive, path=path), insensitive)
        raise self.fail(self.unknown_operator(op), path)  # pragma: no cover - SCALAR_OPS lists them all

    def is_null(self) -> Predicate:
        read = self.read

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if value is MISSING:
                return None
            return value is None

        return evaluate

    def compared(self, test: Callable[[Any], bool]) -> Predicate:
        """A predicate that applies ``test`` to the record's key: unknown for NULL, missing, bad."""
        read, record_key = self.read, self.type.record_key

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if value is MISSING or value is None:
                return None
            key = record_key(value)
            if key is BAD:
                return None
            return test(key)

        return evaluate

    def text(self, test: Callable[[str], bool]) -> Predicate:
        read = self.read

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if value is MISSING or value is None or not isinstance(value, str):
                return None
            return test(value)

        return evaluate

    def equals(self, value: Any, path: str, *, insensitive: bool) -> Predicate:
        if value is None:
            return self.is_null()
        if insensitive:  # Prisma: column ILIKE value (its wildcards included)
            if not isinstance(value, str):
                raise self.fail("expected a String value", path)
            return self.like(like_regex(value, insensitive=True, path=path), insensitive=True)
        wanted = self.type.filter_value(value, path)
        equal = self.type.equal
        return self.compared(lambda key: equal(key, wanted))

    def member(self, values: list[Any], insensitive: bool) -> Predicate:
        if insensitive:  # Prisma: LOWER(column) IN (values as given)
            allowed = frozenset(values)
            return self.text(lambda text: text.lower() in allowed)
        equal = self.type.equal
        return self.compared(lambda key: any(equal(key, v) for v in values))

    def ordered(self, op: str, value: Any, insensitive: bool) -> Predicate:
        sign = {"lt": (-1,), "lte": (-1, 0), "gt": (1,), "gte": (1, 0)}[op]
        if insensitive:  # LOWER(column) < LOWER(value)
            lowered = str(value).lower()
            return self.text(lambda text: ((text.lower() > lowered) - (text.lower() < lowered)) in sign)
        compare = self.type.compare
        return self.compared(lambda key: compare(key, value) in sign)

    def like(self, regex: re.Pattern[str], insensitive: bool) -> Predicate:
        if insensitive:
            return self.text(lambda text: regex.fullmatch(text.lower()) is not None)
        return self.text(lambda text: regex.fullmatch(text) is not None)

    # Lists -----------------------------------------------------------------------------------------

    def list_filter(self, ops: dict[str, Any]) -> Predicate | None:
        predicates = [self.list_op(op, value, _join(self.path, op)) for op, value in ops.items()]
        return _and(predicates) if predicates else None

    def list_op(self, op: str, value: Any, path: str) -> Predicate:
        if op == "isEmpty":
            if not isinstance(value, bool):
                raise self.fail("isEmpty takes true or false", path)
            empty: bool = value
            return self.list_test(lambda keys: (len(keys) == 0) == empty)
        if op == "equals":
            if value is None:
                return self.is_null()
            same = self.elements(value, path)
            return self.list_test(lambda keys: self.list_equal(keys, same))
        if op == "has":
            if value is None:  # column @> ARRAY[NULL]: NULL elements never match
                return self.list_test(lambda keys: False)
            element = self.type.filter_value(value, path)
            return self.list_test(lambda keys: self.contains(keys, element))
        if value is None:
            raise self.fail(f"{op} must not be null", path)
        wanted = self.elements(value, path)
        if op == "hasEvery":
            return self.list_test(lambda keys: all(self.contains(keys, w) for w in wanted))
        return self.list_test(lambda keys: any(self.contains(keys, w) for w in wanted))  # hasSome

    def elements(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail("expected a list of values", path)
        self.budget.spend(path, self.depth, len(value))
        return [None if v is None else self.type.filter_value(v, _join(path, i)) for i, v in enumerate(value)]

    def contains(self, keys: list[Any], wanted: Any) -> bool:
        if wanted is None:
            return False
        equal = self.type.equal
        return any(key is not None and equal(key, wanted) for key in keys)

    def list_equal(self, keys: list[Any], wanted: list[Any]) -> bool:
        if len(keys) != len(wanted):
            return False
        equal = self.type.equal
        return all(
            (key is None and want is None) or (key is not None and want is not None and equal(key, want))
            for key, want in zip(keys, wanted, strict=True)
        )

    def list_test(self, test: Callable[[list[Any]], bool]) -> Predicate:
        read, record_key = self.read, self.type.record_key
        enum = self.field.kind == "enum"

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if enum and isinstance(value, str):
                value = enum_list(value)  # an enum array is logged as its text, {A,B}
            if value is MISSING or value is None or not isinstance(value, list):
                return None
            keys = [None if item is None else record_key(item) for item in value]
            if any(key is BAD for key in keys):
                return None
            return test(keys)

        return evaluate

    # Json ------------------------------------------------------------------------------------------

    def json(self, spec: Any) -> Predicate | None:
        tag = _tag(spec)
        if tag is None or tag[0] != "Json" or not isinstance(tag[1], str):
            raise self.fail('a Json filter is a tagged value, {"$type":"Json","value":"<JSON text>"}')
        try:
            decoded = json.loads(tag[1], parse_constant=_no_constant)
        except ValueError:
            raise self.fail("the Json filter's value is not JSON text") from None
        if not isinstance(decoded, dict):
            return self.json_equals(decoded)
        self.budget.spend(self.path, self.depth, len(decoded))
        predicates: list[Predicate] = []
        for key, value in decoded.items():
            path = _join(self.path, key)
            if key == "equals":
                predicates.append(self.json_equals(value))
            elif key == "not":
                predicates.append(self.json_not(value))
            elif key in JSON_FILTER_KEYS:
                raise self.fail(
                    f"the Json filter {key!r} is not supported; Json fields take equals and not", path
                )
            else:
                raise self.fail(
                    f"unknown Json filter {key!r}: compare a Json field with "
                    "{ equals: value } or { not: value }",
                    path,
                )
        return _and(predicates) if predicates else None

    def json_equals(self, wanted: Any) -> Predicate:
        read = self.read
        try:
            wanted_key = _json_key(wanted)
        except (TypeError, InvalidOperation):
            raise self.fail("the Json value cannot be compared") from None

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if value is MISSING:
                return None
            if value is None:  # SQL NULL or JSON null: the log does not say which
                return True if wanted is None else None
            if wanted is None:
                return False
            try:
                return bool(_json_key(value) == wanted_key)
            except (TypeError, InvalidOperation):
                return None

        return evaluate

    def json_not(self, wanted: Any) -> Predicate:
        equals = self.json_equals(wanted)
        read = self.read

        def evaluate(record: Mapping[str, Any]) -> Truth:
            value = read(record)
            if value is None:
                return False if wanted is None else None
            result = equals(record)
            return None if result is None else not result

        return evaluate


def _compile_where(
    where: Any, model: PrismaModel, path: str, budget: _Budget, depth: int
) -> Predicate | None:
    """One Prisma ``where``: the AND of its entries; None when it holds no condition at all."""
    if not isinstance(where, dict) or _tag(where) is not None:
        raise FilterError(path, "a filter is an object of fields and AND / OR / NOT")
    budget.spend(path, depth, len(where) or 1)
    predicates: list[Predicate] = []
    for key, value in where.items():
        entry_path = _join(path, key)
        if key in ("AND", "NOT"):
            items = value if isinstance(value, list) else [value]
            if not isinstance(value, list | dict):
                raise FilterError(entry_path, f"{key} takes a filter or a list of filters")
            parts = [
                _compile_where(
                    item,
                    model,
                    _join(entry_path, i) if isinstance(value, list) else entry_path,
                    budget,
                    depth + 1,
                )
                for i, item in enumerate(items)
            ]
            kept = [part for part in parts if part is not None]
            predicates.extend(kept if key == "AND" else [_not(part) for part in kept])
        elif key == "OR":
            if not isinstance(value, list):
                raise FilterError(entry_path, "OR takes a list of filters")
            parts = [
                _compile_where(item, model, _join(entry_path, i), budget, depth + 1)
                for i, item in enumerate(value)
            ]
            kept = [part for part in parts if part is not None]
            predicates.append(_or(kept) if kept else _constant(False))
        else:
            field = model.fields.get(key)
            if field is None:
                raise FilterError(entry_path, f"the model {model.name} has no field {key!r}")
            compiled = _FieldCompiler(field, entry_path, budget, depth + 1).compile(value)
            if compiled is not None:
                predicates.append(compiled)
    return _and(predicates) if predicates else None


def compile_where(where: Any, model: PrismaModel, *, path: str = "") -> Predicate | None:
    """A Prisma ``where`` for the model's scalar fields, compiled; None when it has no condition."""
    return _compile_where(where, model, path, _Budget(), 0)


@dataclass(frozen=True, slots=True)
class SubscriptionFilter:
    """Which events one subscription delivers: the actions it asked for, and a filter for each."""

    actions: frozenset[str]
    predicates: Mapping[str, Predicate | None]
    fields: Mapping[str, frozenset[str]]  # per action, the fields its filter reads

    def matches(self, action: str, payload: Mapping[str, Any]) -> bool:
        """Whether an event with this action and payload (as the log stores it) is delivered."""
        if action not in self.actions:
            return False
        predicate = self.predicates.get(action)
        if predicate is None:
            return True
        record = payload.get(RECORD_OF[action])
        if not isinstance(record, Mapping):
            return False
        return predicate(record) is True


def _fields_named(where: Any, model: PrismaModel) -> Iterable[str]:
    if isinstance(where, dict):
        for key, value in where.items():
            if key in ("AND", "OR", "NOT"):
                yield from _fields_named(value, model)
            elif key in model.fields:
                yield key
    elif isinstance(where, list):
        for item in where:
            yield from _fields_named(item, model)


def compile_subscription_filter(where: Any, model: PrismaModel) -> SubscriptionFilter:
    """The ``where`` of a subscription header: ``{name?, create?, update?: {after?}, delete?}``.

    ``create`` / ``update`` / ``delete`` choose the actions (none of them: all three) and filter
    them; ``{}`` takes every event of that action. Truncations are never delivered (the extension
    has no event for them).
    """
    if where is None:
        where = {}
    if not isinstance(where, dict):
        raise FilterError("", "where must be an object")
    unknown = sorted(set(where) - {"name", *ACTIONS})
    if unknown:
        raise FilterError(unknown[0], f"unknown option {unknown[0]!r}; use name, create, update and delete")
    name = where.get("name")
    if name is not None and not isinstance(name, str):
        raise bad_subscription("The stream name must be a string.", reason="invalid_stream_name")
    chosen = [action for action in ACTIONS if action in where]
    actions = frozenset(chosen or ACTIONS)
    predicates: dict[str, Predicate | None] = {}
    fields: dict[str, frozenset[str]] = {}
    for action in actions:
        spec = where.get(action)
        if spec is None and action in where:
            raise FilterError(action, f"{action} takes a filter object ({{}} for every {action} event)")
        if action == "update" and spec is not None:
            if not isinstance(spec, dict):
                raise FilterError(action, "update takes { after: { … } }")
            extra = sorted(set(spec) - {"after"})
            if extra:
                raise FilterError(
                    _join(action, extra[0]),
                    "update filters apply to the row after the change: use update: { after: { … } }",
                )
            spec = spec.get("after")
            path = "update.after"
        else:
            path = action
        predicates[action] = None if spec is None else compile_where(spec, model, path=path)
        fields[action] = frozenset(_fields_named(spec, model))
    return SubscriptionFilter(actions=actions, predicates=predicates, fields=fields)
