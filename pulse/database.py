"""Connections to a user's database for Pulse's control plane, and the SQL it shows them.

Every connection goes through the guard of userdb.connection_strings: the host is
resolved and checked, and the checked address is pinned as ``hostaddr``. Errors are the
guard's safe messages, never libpq's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings

from userdb.connection_strings import (
    ConnectionString,
    DatabaseConnectionFailed,
    connection_failure,
    resolve_allowed_address,
)

_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")
# Words that must be quoted even when they look plain (the ones likely in table names).
_RESERVED = frozenset(
    {"user", "order", "group", "table", "select", "where", "from", "to", "limit", "offset", "end", "check"}
)


def quote_identifier(name: str) -> str:
    """The name as SQL writes it: bare when plain lower-case, else double-quoted."""
    if _PLAIN_IDENTIFIER.fullmatch(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def qualified_table(schema: str, table: str) -> str:
    """``orders`` in the public schema, ``sales.orders`` elsewhere, quoted as needed."""
    name = quote_identifier(table)
    return name if schema == "public" else f"{quote_identifier(schema)}.{name}"


@contextmanager
def user_database(
    parsed: ConnectionString, *, timeout: float | None = None
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """An autocommit connection to the user's database, closed afterwards.

    Each statement is limited to ``timeout`` seconds too (statement_timeout). Raises the
    ConnectionStringError subclasses of userdb.connection_strings, with messages safe to show.
    """
    timeout = settings.PULSE_CHECK_TIMEOUT if timeout is None else timeout
    address = resolve_allowed_address(parsed.host, parsed.port)
    kwargs = parsed.connect_kwargs(hostaddr=address, connect_timeout=timeout)
    limit = f"-c statement_timeout={max(1, int(timeout * 1000))}"
    kwargs["options"] = f"{kwargs['options']} {limit}" if kwargs.get("options") else limit
    try:
        connection = psycopg.connect(**kwargs, autocommit=True)
    except psycopg.Error as error:
        raise connection_failure(error, parsed) from None
    try:
        yield connection
    finally:
        connection.close()


def lost(error: psycopg.Error, parsed: ConnectionString) -> DatabaseConnectionFailed:
    """The safe error for a failure after connecting (the connection broke, or a statement timed out)."""
    if isinstance(error, psycopg.errors.QueryCanceled):
        return DatabaseConnectionFailed(
            "timeout", f"The database at {parsed.address} did not finish the statement in time."
        )
    return connection_failure(error, parsed)
