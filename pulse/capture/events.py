"""From pgoutput messages to Pulse events: whole transactions of JSON payloads (docs/pulse.md).

Column values arrive in PostgreSQL's text format with the column types of the latest
Relation message. They are loaded with psycopg's own loaders (bound to the source
connection's adapters, so its custom types load as they would in a query) and encoded
with userdb.pgjson's PostgreSQL → JSON mapping, the one the Accelerate gateway uses.

Payloads, by action:

- create: ``{"created": row}``
- update: ``{"before": row | null, "after": row}``; ``before`` is the whole old row with
  REPLICA IDENTITY FULL, only the key columns when the key changed under the default
  identity, else null
- delete: ``{"deleted": row}``: the whole row with REPLICA IDENTITY FULL, else its key
- truncate: ``{}``, one event per truncated table

A TOASTed value that an UPDATE did not change is not in the WAL. When the old row carries
it (REPLICA IDENTITY FULL), ``after`` has it; otherwise the column is left out of ``after``
and named in ``"unchanged": [...]``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg.abc import AdaptContext
from psycopg.adapt import Transformer
from psycopg.pq import Format

from pulse.capture.pgoutput import (
    UNCHANGED,
    Begin,
    ColumnValue,
    Commit,
    DecodeError,
    Delete,
    Insert,
    Relation,
    Truncate,
    Update,
    decode,
)
from userdb.pgjson import row_encoder

Row = dict[str, Any]
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(slots=True)
class CapturedEvent:
    model_name: str
    action: str  # create | update | delete | truncate
    payload: str  # JSON text
    position: int  # within the transaction, from 0


@dataclass(slots=True)
class CapturedTransaction:
    commit_lsn: int
    end_lsn: int
    committed_at: dt.datetime
    events: list[CapturedEvent] = field(default_factory=list)


class _Table:
    """One relation as the latest Relation message described it, with its loaders and encoder."""

    __slots__ = ("encode", "key_columns", "load", "model_name", "names")

    def __init__(self, relation: Relation, context: AdaptContext | None) -> None:
        self.model_name = relation.model_name
        self.names = [column.name for column in relation.columns]
        self.key_columns = [i for i, column in enumerate(relation.columns) if column.is_key]
        oids = [column.type_oid for column in relation.columns]
        transformer = Transformer(context)
        transformer.set_loader_types(oids, Format.TEXT)
        self.load: Callable[[Sequence[Any]], tuple[Any, ...]] = transformer.load_sequence
        self.encode = row_encoder(oids)

    def row(self, values: tuple[ColumnValue, ...], *, key_only: bool = False) -> tuple[Row, list[str]]:
        """The row as JSON values, and the columns whose value was not in the WAL."""
        if UNCHANGED not in values:
            encoded = self.encode(self.load(values))
            if key_only:
                return {self.names[i]: encoded[i] for i in self.key_columns}, []
            return dict(zip(self.names, encoded, strict=False)), []
        unchanged = [self.names[i] for i, value in enumerate(values) if value is UNCHANGED]
        encoded = self.encode(self.load([None if value is UNCHANGED else value for value in values]))
        wanted = self.key_columns if key_only else range(len(values))
        return {self.names[i]: encoded[i] for i in wanted if values[i] is not UNCHANGED}, unchanged


def _within(transaction: CapturedTransaction | None) -> CapturedTransaction:
    if transaction is None:
        raise DecodeError("a change outside a transaction")
    return transaction


class TransactionDecoder:
    """Feed it pgoutput messages in order; it hands back each transaction at its Commit."""

    def __init__(self, context: AdaptContext | None = None) -> None:
        self.context = context
        self.tables: dict[int, _Table] = {}
        self.models_seen: set[str] = set()
        self._current: CapturedTransaction | None = None

    def feed(self, data: bytes) -> CapturedTransaction | None:
        message = decode(data)
        current = self._current
        if isinstance(message, Insert):
            current = _within(current)
            table = self.tables[message.relation_id]
            created, _ = table.row(message.new)
            self._add(current, table.model_name, "create", {"created": created})
        elif isinstance(message, Update):
            current = _within(current)
            table = self.tables[message.relation_id]
            before: Row | None = None
            if message.old is not None:
                before, _ = table.row(message.old, key_only=message.old_is_key_only)
            after, unchanged = table.row(message.new)
            payload: dict[str, Any] = {"before": before, "after": after}
            if unchanged:
                if before is not None and not message.old_is_key_only:
                    # REPLICA IDENTITY FULL logs the old row whole: its value is the unchanged one.
                    for name in unchanged:
                        if name in before:
                            after[name] = before[name]
                    unchanged = [name for name in unchanged if name not in after]
                if unchanged:
                    payload["unchanged"] = unchanged
            self._add(current, table.model_name, "update", payload)
        elif isinstance(message, Delete):
            current = _within(current)
            table = self.tables[message.relation_id]
            deleted, _ = table.row(message.old, key_only=message.old_is_key_only)
            self._add(current, table.model_name, "delete", {"deleted": deleted})
        elif isinstance(message, Begin):
            self._current = CapturedTransaction(
                commit_lsn=message.final_lsn, end_lsn=0, committed_at=message.commit_time
            )
        elif isinstance(message, Commit):
            current = _within(current)
            current.commit_lsn = message.commit_lsn
            current.end_lsn = message.end_lsn
            current.committed_at = message.commit_time
            self._current = None
            return current
        elif isinstance(message, Relation):
            self.tables[message.relation_id] = _Table(message, self.context)
            self.models_seen.add(message.model_name)
        elif isinstance(message, Truncate):
            current = _within(current)
            for relation_id in message.relation_ids:
                self._add(current, self.tables[relation_id].model_name, "truncate", {})
        return None

    @staticmethod
    def _add(transaction: CapturedTransaction, model_name: str, action: str, payload: Row) -> None:
        transaction.events.append(CapturedEvent(model_name, action, _dumps(payload), len(transaction.events)))
