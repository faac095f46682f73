"""What Pulse creates in a user's database, and drops again: the publication and the logical
replication slot (both named ``console_pulse_<short id>``).

The statements run on a connection from ``pulse.database.user_database``; the services in
``pulse.services`` decide when, and record in the console what could not be dropped.
"""

from __future__ import annotations

import time

import psycopg
from django.conf import settings
from psycopg import sql

from pulse.errors import PulseError
from pulse.readiness import PLUGIN


def publication_create(
    connection: psycopg.Connection[tuple[object, ...]], name: str, tables: list[str]
) -> None:
    """``CREATE PUBLICATION`` for the tables (``schema.table``), or for all tables when none are named."""
    if tables:
        listed = sql.SQL(", ").join(sql.Identifier(*table.split(".", 1)) for table in tables)
        statement = sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), listed)
    else:
        statement = sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name))
    connection.execute(statement)


def slot_create(connection: psycopg.Connection[tuple[object, ...]], name: str) -> None:
    """A logical slot with pgoutput; PulseError when it waits longer than PULSE_SLOT_CREATE_TIMEOUT."""
    # A new logical slot waits for the transactions running on the server to end.
    connection.execute(
        sql.SQL("SET statement_timeout = {}").format(
            sql.Literal(int(settings.PULSE_SLOT_CREATE_TIMEOUT * 1000))
        )
    )
    try:
        connection.execute("SELECT pg_create_logical_replication_slot(%s, %s)", [name, PLUGIN])
    except psycopg.errors.QueryCanceled:
        raise PulseError(
            "Creating the replication slot timed out: PostgreSQL waits for the transactions running on the "
            "server to finish first. End long-running transactions and try again."
        ) from None
    finally:
        if not connection.closed:
            connection.execute("RESET statement_timeout")


def replication_drop(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    slot_name: str,
    publication_name: str,
    slot: bool = True,
    publication: bool = True,
) -> None:
    """Drop the slot (ending a connection that still reads it) and the publication, if they exist."""
    if slot:
        for _attempt in range(50):
            row = connection.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", [slot_name]
            ).fetchone()
            if row is None:
                break
            if row[0] is not None:
                # The capture worker (or anyone else) still reads it: end that connection first.
                connection.execute("SELECT pg_terminate_backend(%s)", [row[0]])
                time.sleep(0.1)
                continue
            try:
                connection.execute("SELECT pg_drop_replication_slot(%s)", [slot_name])
            except (psycopg.errors.ObjectInUse, psycopg.errors.UndefinedObject):
                time.sleep(0.1)
                continue
            break
        else:
            raise PulseError(f"The replication slot {slot_name} is still in use and could not be dropped.")
    if publication:
        connection.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(publication_name)))
