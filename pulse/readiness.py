"""Is a user's database ready for Pulse? The live checklist (DESIGN.md section 8).

Each check reads the database's own catalogs and settings and answers pass, fail or
warning, with the SQL (or provider setting) that fixes it when it does not pass. Failing
checks block enabling; warnings do not. Nothing here writes to the user's database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import psycopg

from pulse.database import lost, qualified_table, quote_identifier, quote_literal, user_database
from userdb.connection_strings import ConnectionString, ConnectionStringError, parse

MINIMUM_VERSION_NUM = 120000
PLUGIN = "pgoutput"


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 -- a check result, not a password
    FAIL = "fail"
    WARNING = "warning"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    status: Status
    detail: str
    fix: str = ""  # SQL (or a setting) to run, shown with a copy button
    note: str = ""  # what managed providers call it, what it costs

    @property
    def blocking(self) -> bool:
        return self.status in (Status.FAIL, Status.NOT_CHECKED)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    replica_identity: str  # 'd' default, 'n' nothing, 'f' full, 'i' index
    has_primary_key: bool
    owned: bool

    @property
    def qualified(self) -> str:
        return qualified_table(self.schema, self.name)

    @property
    def label(self) -> str:
        """``schema.table`` as stored in the configuration (``public`` included)."""
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class SlotState:
    exists: bool
    ours: bool = False  # same name, pgoutput, this database, logical, inactive: Pulse may reuse it
    description: str = ""


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
    checks = [Check("reachable", "Database reachable", Status.FAIL, error.message)]
    checks += [
        Check(key, title, Status.NOT_CHECKED, "Checked once the database is reachable.")
        for key, title in TITLES.items()
        if key != "reachable"
    ]
    return Readiness(
        checks=checks, database_label=label, slot_name=slot_name, publication_name=publication_name
    )


TITLES = {
    "reachable": "Database reachable",
    "version": "PostgreSQL 12 or newer",
    "wal_level": "Logical replication enabled (wal_level = logical)",
    "replication": "The role can replicate",
    "slot": "A free replication slot",
    "publication": "Publication present or creatable",
    "replica_identity": "Tables with REPLICA IDENTITY FULL",
}

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


def readiness_run(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    parsed: ConnectionString,
    slot_name: str,
    publication_name: str,
    tables: list[str],
) -> Readiness:
    """The checklist on an open connection (the enable service reuses its connection)."""
    tables = table_names_parse(",".join(tables))
    try:
        with connection.transaction():
            connection.execute("SET TRANSACTION READ ONLY")
            server = connection.execute(_SERVER_SQL).fetchone()
            slot_row = connection.execute(
                "SELECT slot_type, plugin, database, active FROM pg_replication_slots WHERE slot_name = %s",
                [slot_name],
            ).fetchone()
            publication_row = connection.execute(
                "SELECT puballtables FROM pg_publication WHERE pubname = %s", [publication_name]
            ).fetchone()
            published = [
                f"{schema}.{name}"
                for schema, name in connection.execute(
                    "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s "
                    "ORDER BY 1, 2",
                    [publication_name],
                )
            ]
            found = [
                Table(str(s), str(n), str(r), bool(pk), bool(owned))
                for s, n, r, pk, owned in connection.execute(_TABLES_SQL)
            ]
    except psycopg.Error as error:
        return _unreachable(lost(error, parsed), parsed.redacted(), slot_name, publication_name)
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
    role, database = str(role), str(database)

    slot = _slot_state(slot_row, database=database)
    all_tables = publication_row[0] if publication_row else not tables
    publication_tables = (
        None if publication_row and publication_row[0] else published if publication_row else None
    )
    checks = [
        Check(
            "reachable",
            TITLES["reachable"],
            Status.PASS,
            f"Connected to {database} on {parsed.address} as {role}.",
        ),
        _version_check(int(str(version_num)), str(version)),
        _wal_level_check(str(wal_level)),
        _replication_check(role, bool(superuser), bool(replication), bool(rds_replication)),
        _slot_check(slot, slot_name, int(str(max_slots)), int(str(used_slots))),
        _publication_check(
            exists=publication_row is not None,
            all_tables=bool(all_tables),
            publication_name=publication_name,
            published=published,
            wanted=tables,
            found=found,
            database=database,
            role=role,
            superuser=bool(superuser),
            can_create=bool(can_create),
        ),
    ]
    if publication_row is not None:
        in_scope = found if publication_row[0] else [table for table in found if table.label in published]
    else:
        in_scope = [table for table in found if table.label in tables] if tables else found
    checks.append(_replica_identity_check(in_scope))
    return Readiness(
        checks=checks,
        database_label=parsed.redacted(),
        slot_name=slot_name,
        publication_name=publication_name,
        server_version=str(version),
        slot=slot,
        publication_exists=publication_row is not None,
        publication_tables=publication_tables,
        tables=found,
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


def _version_check(version_num: int, version: str) -> Check:
    if version_num >= MINIMUM_VERSION_NUM:
        return Check("version", TITLES["version"], Status.PASS, f"PostgreSQL {version}.")
    return Check(
        "version",
        TITLES["version"],
        Status.FAIL,
        f"The server runs PostgreSQL {version}; Pulse needs 12 or newer.",
        fix="Upgrade the server to PostgreSQL 12 or newer (pg_upgrade, or your provider's upgrade).",
    )


def _wal_level_check(wal_level: str) -> Check:
    if wal_level == "logical":
        return Check("wal_level", TITLES["wal_level"], Status.PASS, "wal_level is logical.")
    return Check(
        "wal_level",
        TITLES["wal_level"],
        Status.FAIL,
        f"wal_level is {wal_level}: the server writes no logical change data, "
        "so there is nothing to capture.",
        fix="ALTER SYSTEM SET wal_level = logical;\n-- then restart the PostgreSQL server",
        note=(
            "Managed databases: on AWS RDS and Aurora set rds.logical_replication = 1 in the parameter "
            "group and reboot; on Google Cloud SQL set the flag cloudsql.logical_decoding = on; on Azure "
            "set wal_level = logical in the server parameters; on Neon turn on logical replication in "
            "the project settings; Supabase has it on already."
        ),
    )


def _replication_check(role: str, superuser: bool, replication: bool, rds_replication: bool) -> Check:
    if superuser or replication or rds_replication:
        how = "is a superuser" if superuser else "has REPLICATION" if replication else "is in rds_replication"
        return Check("replication", TITLES["replication"], Status.PASS, f"The role {role} {how}.")
    return Check(
        "replication",
        TITLES["replication"],
        Status.FAIL,
        f"The role {role} is neither a superuser nor has the REPLICATION attribute, "
        "so it cannot create or read a replication slot.",
        fix=f"ALTER ROLE {quote_identifier(role)} WITH REPLICATION;",
        note=(
            "Run it as a superuser. Managed databases call it differently: on AWS RDS and Aurora, "
            f"GRANT rds_replication TO {quote_identifier(role)}; on Google Cloud SQL, a cloudsqlsuperuser "
            "runs ALTER ROLE … WITH REPLICATION (with the cloudsql.logical_decoding flag on); Supabase's "
            "postgres role has it; on Neon, turn on logical replication in the project settings and use "
            "the role it created the database with."
        ),
    )


def _slot_check(slot: SlotState, slot_name: str, max_slots: int, used: int) -> Check:
    title = TITLES["slot"]
    if slot.exists and slot.ours:
        return Check(
            "slot",
            title,
            Status.PASS,
            f"The slot {slot_name} already exists ({slot.description}); Pulse will reuse it.",
        )
    if slot.exists:
        return Check(
            "slot",
            title,
            Status.FAIL,
            f"A replication slot named {slot_name} already exists and is not one Pulse can use "
            f"({slot.description}).",
            fix=f"SELECT pg_drop_replication_slot({quote_literal(slot_name)});",
            note="Drop it only if nothing else reads it; a slot in use has to be released first.",
        )
    free = max_slots - used
    if free > 0:
        return Check("slot", title, Status.PASS, f"{free} of {max_slots} replication slots are free.")
    return Check(
        "slot",
        title,
        Status.FAIL,
        f"All {max_slots} replication slots (max_replication_slots) are in use.",
        fix=(
            f"ALTER SYSTEM SET max_replication_slots = {max_slots + 1};\n"
            "-- then restart the PostgreSQL server\n"
            "-- or drop a slot nothing reads any more:\n"
            "SELECT slot_name, active FROM pg_replication_slots;\n"
            "SELECT pg_drop_replication_slot('unused_slot_name');"
        ),
    )


def _publication_check(
    *,
    exists: bool,
    all_tables: bool,
    publication_name: str,
    published: list[str],
    wanted: list[str],
    found: list[Table],
    database: str,
    role: str,
    superuser: bool,
    can_create: bool,
) -> Check:
    title = TITLES["publication"]
    publication = quote_identifier(publication_name)
    if exists:
        covers = "all tables" if all_tables else (", ".join(published) or "no tables yet")
        return Check(
            "publication",
            title,
            Status.PASS,
            f"The publication {publication_name} exists and covers {covers}.",
        )
    if not wanted:
        if superuser:
            return Check(
                "publication",
                title,
                Status.PASS,
                f"The publication {publication_name} will be created for all tables.",
            )
        return Check(
            "publication",
            title,
            Status.FAIL,
            f"A publication for all tables can only be created by a superuser, and {role} is not one.",
            fix=f"CREATE PUBLICATION {publication} FOR ALL TABLES;",
            note="Run it as a superuser, or list the tables Pulse should cover (the role must own them).",
        )
    by_label = {table.label: table for table in found}
    missing = [name for name in wanted if name not in by_label]
    if missing:
        return Check(
            "publication",
            title,
            Status.FAIL,
            f"These tables do not exist in {database}: {', '.join(missing)}.",
            note="Check the names (schema.table; the public schema may be left out).",
        )
    chosen = [by_label[name] for name in wanted]
    listed = ", ".join(table.qualified for table in chosen)
    if superuser:
        return Check(
            "publication",
            title,
            Status.PASS,
            f"The publication {publication_name} will be created for {len(chosen)} tables.",
        )
    fixes: list[str] = []
    problems: list[str] = []
    if not can_create:
        problems.append(f"the role {role} lacks the CREATE privilege on the database")
        fixes.append(f"GRANT CREATE ON DATABASE {quote_identifier(database)} TO {quote_identifier(role)};")
    not_owned = [table for table in chosen if not table.owned]
    if not_owned:
        problems.append(f"it does not own {', '.join(table.qualified for table in not_owned)}")
        fixes += [f"ALTER TABLE {table.qualified} OWNER TO {quote_identifier(role)};" for table in not_owned]
    if not problems:
        return Check(
            "publication",
            title,
            Status.PASS,
            f"The publication {publication_name} will be created for {len(chosen)} tables.",
        )
    return Check(
        "publication",
        title,
        Status.FAIL,
        f"The publication cannot be created: {'; and '.join(problems)}.",
        fix="\n".join(fixes),
        note=(
            "Or create it yourself as the tables' owner: "
            f"CREATE PUBLICATION {publication} FOR TABLE {listed};"
        ),
    )


def _replica_identity_check(tables: list[Table]) -> Check:
    title = TITLES["replica_identity"]
    lacking = [table for table in tables if table.replica_identity != "f"]
    if not tables:
        return Check("replica_identity", title, Status.PASS, "There are no tables to capture yet.")
    if not lacking:
        return Check("replica_identity", title, Status.PASS, "Every table has REPLICA IDENTITY FULL.")
    refused = [
        table
        for table in lacking
        if table.replica_identity == "n" or (table.replica_identity == "d" and not table.has_primary_key)
    ]
    detail = (
        f"{len(lacking)} of {len(tables)} tables do not have REPLICA IDENTITY FULL: "
        f"{', '.join(table.label for table in lacking[:20])}{' …' if len(lacking) > 20 else ''}. "
        "Their update events carry no before values and their delete events carry only the primary key."
    )
    if refused:
        detail += (
            f" {', '.join(table.label for table in refused[:20])} have no primary key either: once they "
            "are published, PostgreSQL refuses UPDATE and DELETE on them until they get a replica identity."
        )
    return Check(
        "replica_identity",
        title,
        Status.WARNING,
        detail,
        fix="\n".join(f"ALTER TABLE {table.qualified} REPLICA IDENTITY FULL;" for table in lacking),
        note=(
            "What it costs: with FULL, PostgreSQL writes the whole old row to the WAL on every update "
            "and delete, so those write more WAL."
        ),
    )
