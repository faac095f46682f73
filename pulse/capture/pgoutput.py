"""A decoder for PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

Each message is one ``data`` value of ``pg_logical_slot_{peek,get}_binary_changes`` (or
one XLogData payload of the streaming protocol). Column values stay in PostgreSQL's
text format here; ``pulse.capture.events`` turns them into JSON with the column types
from the Relation message. Reference: "Logical Replication Message Formats" in the
PostgreSQL documentation.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass

POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

# A column of a tuple: None for NULL, UNCHANGED for an unchanged TOASTed value
# (not in the WAL), else the value's text representation.
UNCHANGED = object()
ColumnValue = bytes | None | object


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    is_key: bool


@dataclass(frozen=True, slots=True)
class Relation:
    relation_id: int
    namespace: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    columns: tuple[Column, ...]

    @property
    def model_name(self) -> str:
        """``table`` in the public schema, else ``schema.table`` (DESIGN.md section 8)."""
        return self.name if self.namespace == "public" else f"{self.namespace}.{self.name}"


@dataclass(frozen=True, slots=True)
class Begin:
    final_lsn: int
    commit_time: dt.datetime
    xid: int


@dataclass(frozen=True, slots=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Insert:
    relation_id: int
    new: tuple[ColumnValue, ...]


@dataclass(frozen=True, slots=True)
class Update:
    relation_id: int
    # The old row: all columns with REPLICA IDENTITY FULL ('O'), only the key columns when
    # the key changed ('K'), or None when PostgreSQL sent no old row.
    old: tuple[ColumnValue, ...] | None
    old_is_key_only: bool
    new: tuple[ColumnValue, ...]


@dataclass(frozen=True, slots=True)
class Delete:
    relation_id: int
    old: tuple[ColumnValue, ...]
    old_is_key_only: bool


@dataclass(frozen=True, slots=True)
class Truncate:
    relation_ids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True, slots=True)
class Ignored:
    """A message Pulse does not act on (Origin, Type, logical decoding Message)."""

    kind: str


Message = Begin | Commit | Relation | Insert | Update | Delete | Truncate | Ignored


class DecodeError(ValueError):
    """The bytes are not a pgoutput message this decoder understands."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise DecodeError("message ends early")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def byte(self) -> str:
        return chr(self.take("!B"))

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError("unterminated string")
        value = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return value

    def raw(self, length: int) -> bytes:
        if length < 0 or self.pos + length > len(self.data):
            raise DecodeError("value runs past the message")
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return bytes(value)

    def timestamp(self) -> dt.datetime:
        return POSTGRES_EPOCH + dt.timedelta(microseconds=self.take("!q"))

    def tuple(self) -> tuple[ColumnValue, ...]:
        values: list[ColumnValue] = []
        for _ in range(self.take("!H")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind in ("t", "b"):
                values.append(self.raw(self.take("!i")))
            else:
                raise DecodeError(f"unknown tuple column kind {kind!r}")
        return tuple(values)


def decode(data: bytes) -> Message:
    """Decode one pgoutput message."""
    if not data:
        raise DecodeError("empty message")
    reader = _Reader(data)
    kind = reader.byte()
    if kind == "B":
        final_lsn = reader.take("!Q")
        return Begin(final_lsn=final_lsn, commit_time=reader.timestamp(), xid=reader.take("!I"))
    if kind == "C":
        reader.take("!B")  # flags, unused
        commit_lsn, end_lsn = reader.take("!Q"), reader.take("!Q")
        return Commit(commit_lsn=commit_lsn, end_lsn=end_lsn, commit_time=reader.timestamp())
    if kind == "R":
        relation_id = reader.take("!I")
        namespace, name = reader.string(), reader.string()
        identity = reader.byte()
        columns = []
        for _ in range(reader.take("!H")):
            flags = reader.take("!B")
            column_name = reader.string()
            columns.append(
                Column(
                    name=column_name,
                    type_oid=reader.take("!I"),
                    type_modifier=reader.take("!i"),
                    is_key=bool(flags & 1),
                )
            )
        return Relation(relation_id, namespace or "pg_catalog", name, identity, tuple(columns))
    if kind == "I":
        relation_id = reader.take("!I")
        if reader.byte() != "N":
            raise DecodeError("insert without a new tuple")
        return Insert(relation_id=relation_id, new=reader.tuple())
    if kind == "U":
        relation_id = reader.take("!I")
        marker = reader.byte()
        old: tuple[ColumnValue, ...] | None = None
        key_only = False
        if marker in ("K", "O"):
            old, key_only = reader.tuple(), marker == "K"
            marker = reader.byte()
        if marker != "N":
            raise DecodeError("update without a new tuple")
        return Update(relation_id=relation_id, old=old, old_is_key_only=key_only, new=reader.tuple())
    if kind == "D":
        relation_id = reader.take("!I")
        marker = reader.byte()
        if marker not in ("K", "O"):
            raise DecodeError("delete without an old tuple")
        return Delete(relation_id=relation_id, old=reader.tuple(), old_is_key_only=marker == "K")
    if kind == "T":
        count = reader.take("!I")
        options = reader.take("!B")
        ids = tuple(reader.take("!I") for _ in range(count))
        return Truncate(relation_ids=ids, cascade=bool(options & 1), restart_identity=bool(options & 2))
    if kind in ("O", "Y", "M"):
        return Ignored(kind)
    raise DecodeError(f"unknown message type {kind!r}")


def format_lsn(lsn: int) -> str:
    """``0/16B3748``: PostgreSQL's text form of a WAL position."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)
