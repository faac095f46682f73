"""Is a user's database ready for Pulse? The live checklist (DESIGN.md section 8).

This module reads the database: it connects (or takes the enable service's connection), reads
what the checklist looks at in one read-only transaction, and runs the items of
``pulse.checklist`` on it, in order. Each answers pass, fail or warning, with the SQL (or
provider setting) that fixes it when it does not pass. Failing checks block enabling;
warnings do not. Nothing here writes to the user's database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from pulse.checklist import CHECKLIST, Check, Facts, SlotState, Status, Table, checklist_run
from pulse.database import lost, user_database
from userdb.connection_strings import ConnectionString, ConnectionStringError, parse

PLUGIN = "pgoutput"


@dataclass(frozen=True)
class Readiness:
    """The checklist for one database, slot name and publication name."""

    checks: list[Check]
    database_label: str
    slot_name: str
    publication_name: str
    server_version: str = ""
    slot: SlotState = field(default_factory=lambda: SlotState(exists=False))
    publication_exists: bool = False
    publication_tables: list[str] | None = None  # None: FOR ALL TABLES (or absent)
    tables: list[Table] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not any(check.blocking for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if check.blocking]

    def failure_message(self) -> str:
        return " ".join(f"{check.title}: {check.detail}" for check in self.failures)


def table_names_parse(text: str) -> list[str]:
    """``"orders, sales.items"`` → ``["public.orders", "sales.items"]`` (order kept, duplicates dropped).

    Raises ValueError for a name that is not ``table`` or ``schema.table``.
    """
    names: list[str] = []
    for raw in text.replace("\n", ",").split(","):
        raw = raw.strip()
        if not raw:
            continue
        parts = [part.strip().strip('"') for part in raw.split(".")]
        if len(parts) == 1:
            parts = ["public", *parts]
        if len(parts) != 2 or not all(parts) or any(len(part) > 63 for part in parts):
            raise ValueError(f"{raw} is not a table name (write table or schema.table).")
        name = f"{parts[0]}.{parts[1]}"
        if name not in names:
            names.append(name)
    return names


def readiness_check(
    *,
    connection_string: str | ConnectionString,
    slot_name: str,
    publication_name: str,
    tables: list[str] | None = None,
) -> Readiness:
    """Run the checklist live against the database. Never raises for the database's answers:
    a bad connection string or an unreachable database is the failing first check.
    """
    try:
        parsed = parse(connection_string) if isinstance(connection_string, str) else connection_string
    except ConnectionStringError as error:
        return _unreachable(error, "", slot_name, publication_name)
    try:
        with user_database(parsed) as connection:
            return readiness_run(
                connection,
                parsed=parsed,
                slot_name=slot_name,
                publication_name=publication_name,
                tables=tables or [],
            )
    except ConnectionStringError as error:
        return _unreachable(error, parsed.redacted(), slot_name, publication_name)


def _unreachable(
    error: ConnectionStringError, label: str, slot_name: str, publication_name: str
) -> Readiness:
    """The first item fails with the connection's error; the others are not checked."""
    reachable, *others = CHECKLIST
    checks = [Check(reachable.key, reachable.title, Status.FAIL, error.message)]
    checks += [item.not_checked() for item in others]
    return Readiness(
        checks=checks, database_label=label, slot_name=slot_name, publication_name=publication_name
    )


def readiness_run(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    parsed: ConnectionString,
    slot_name: str,
    publication_name: str,
    tables: list[str],
) -> Readiness:
    """The checklist on an open connection (the enable service reuses its connection)."""
    try:
        facts = _facts_read(
            connection,
            address=parsed.address,
            slot_name=slot_name,
            publication_name=publication_name,
            wanted=table_names_parse(",".join(tables)),
        )
    except psycopg.Error as error:
        return _unreachable(lost(error, parsed), parsed.redacted(), slot_name, publication_name)
    return Readiness(
        checks=checklist_run(facts),
        database_label=parsed.redacted(),
        slot_name=slot_name,
        publication_name=publication_name,
        server_version=facts.version,
        slot=facts.slot,
        publication_exists=facts.publication_exists,
        publication_tables=(
            facts.published if facts.publication_exists and not facts.publication_all_tables else None
        ),
        tables=facts.tables,
    )


_SERVER_SQL = """
SELECT current_setting('server_version_num')::int,
       current_setting('server_version'),
       current_setting('wal_level'),
       current_setting('max_replication_slots')::int,
       current_database(),
       current_user,
       r.rolsuper,
       r.rolreplication,
       has_database_privilege(current_database(), 'CREATE'),
       coalesce((SELECT pg_has_role(current_user, g.oid, 'MEMBER')
                   FROM pg_roles g WHERE g.rolname = 'rds_replication'), false),
       (SELECT count(*) FROM pg_replication_slots)::int
  FROM pg_roles r
 WHERE r.rolname = current_user
"""

_TABLES_SQL = """
SELECT n.nspname, c.relname, c.relreplident,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
       pg_has_role(current_user, c.relowner, 'USAGE')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND NOT c.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
 ORDER BY n.nspname, c.relname
"""


_SLOT_SQL = "SELECT slot_type, plugin, database, active FROM pg_replication_slots WHERE slot_name = %s"
_PUBLICATION_SQL = "SELECT puballtables FROM pg_publication WHERE pubname = %s"
_PUBLISHED_SQL = "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s ORDER BY 1, 2"


def _facts_read(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    address: str,
    slot_name: str,
    publication_name: str,
    wanted: list[str],
) -> Facts:
    """What the checklist looks at, read from the catalogs and settings in one read-only transaction."""
    with connection.transaction():
        connection.execute("SET TRANSACTION READ ONLY")
        server = connection.execute(_SERVER_SQL).fetchone()
        slot_row = connection.execute(_SLOT_SQL, [slot_name]).fetchone()
        publication_row = connection.execute(_PUBLICATION_SQL, [publication_name]).fetchone()
        published = [
            f"{schema}.{name}" for schema, name in connection.execute(_PUBLISHED_SQL, [publication_name])
        ]
        tables = [
            Table(str(s), str(n), str(r), bool(pk), bool(owned))
            for s, n, r, pk, owned in connection.execute(_TABLES_SQL)
        ]
    assert server is not None  # noqa: S101 -- current_user is always in pg_roles
    (
        version_num,
        version,
        wal_level,
        max_slots,
        database,
        role,
        superuser,
        replication,
        can_create,
        rds_replication,
        used_slots,
    ) = server
    return Facts(
        address=address,
        database=str(database),
        role=str(role),
        version_num=int(str(version_num)),
        version=str(version),
        wal_level=str(wal_level),
        superuser=bool(superuser),
        replication=bool(replication),
        rds_replication=bool(rds_replication),
        can_create=bool(can_create),
        max_slots=int(str(max_slots)),
        used_slots=int(str(used_slots)),
        slot_name=slot_name,
        slot=_slot_state(slot_row, database=str(database)),
        publication_name=publication_name,
        publication_exists=publication_row is not None,
        publication_all_tables=bool(publication_row and publication_row[0]),
        published=published,
        wanted=wanted,
        tables=tables,
    )


def _slot_state(row: tuple[object, ...] | None, *, database: str) -> SlotState:
    if row is None:
        return SlotState(exists=False)
    slot_type, plugin, slot_database, active = row
    ours = slot_type == "logical" and plugin == PLUGIN and slot_database == database and not active
    description = (
        f"a {slot_type} slot"
        + (f" with plugin {plugin}" if plugin else "")
        + (f" in database {slot_database}" if slot_database else "")
        + (", in use by another connection" if active else "")
    )
    return SlotState(exists=True, ours=ours, description=description)
