"""The items of Pulse's readiness checklist (DESIGN.md section 8), in the order the console shows them.

Each item is one small object: its key, what it checks (the title), a rule that reads the
``Facts`` (what ``pulse.readiness`` read from the database) and answers passed or not, with
the detail and the SQL (or provider setting) that fixes it, and what not passing means —
``FAIL`` blocks enabling, ``WARNING`` does not. The rules read nothing themselves, so they
can be tried on any set of facts; ``pulse.readiness`` reads the database and runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from pulse.database import qualified_table, quote_identifier, quote_literal

MINIMUM_VERSION_NUM = 120000


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 -- a check result, not a password
    FAIL = "fail"
    WARNING = "warning"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Check:
    """One item's result, as the checklist shows it."""

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
class Facts:
    """What the checklist looks at: one database, as read in one read-only transaction."""

    address: str  # host:port, as the connection string names it
    database: str
    role: str
    version_num: int
    version: str
    wal_level: str
    superuser: bool
    replication: bool
    rds_replication: bool  # a member of AWS RDS's rds_replication role
    can_create: bool  # CREATE on the database
    max_slots: int
    used_slots: int
    slot_name: str
    slot: SlotState
    publication_name: str
    publication_exists: bool
    publication_all_tables: bool  # the existing publication is FOR ALL TABLES
    published: list[str]  # the existing publication's tables, as schema.table
    wanted: list[str]  # the tables the user picked (schema.table); empty for all tables
    tables: list[Table]  # every user table in the database

    @property
    def captured(self) -> list[Table]:
        """The tables Pulse would capture: the existing publication's, else the ones picked (or all)."""
        if self.publication_exists:
            if self.publication_all_tables:
                return self.tables
            return [table for table in self.tables if table.label in self.published]
        if self.wanted:
            return [table for table in self.tables if table.label in self.wanted]
        return self.tables


@dataclass(frozen=True)
class Verdict:
    passed: bool
    detail: str
    fix: str = ""
    note: str = ""


def passed(detail: str) -> Verdict:
    return Verdict(True, detail)


def failed(detail: str, *, fix: str = "", note: str = "") -> Verdict:
    return Verdict(False, detail, fix, note)


@dataclass(frozen=True)
class Item:
    key: str
    title: str  # what it checks, as the checklist names it
    rule: Callable[[Facts], Verdict]
    otherwise: Status = Status.FAIL  # what not passing means

    def run(self, facts: Facts) -> Check:
        verdict = self.rule(facts)
        status = Status.PASS if verdict.passed else self.otherwise
        return Check(self.key, self.title, status, verdict.detail, verdict.fix, verdict.note)

    def not_checked(self) -> Check:
        return Check(self.key, self.title, Status.NOT_CHECKED, "Checked once the database is reachable.")


def _reachable(facts: Facts) -> Verdict:
    # Facts exist only once connected; an unreachable database fails this item in pulse.readiness.
    return passed(f"Connected to {facts.database} on {facts.address} as {facts.role}.")


def _version(facts: Facts) -> Verdict:
    if facts.version_num >= MINIMUM_VERSION_NUM:
        return passed(f"PostgreSQL {facts.version}.")
    return failed(
        f"The server runs PostgreSQL {facts.version}; Pulse needs 12 or newer.",
        fix="Upgrade the server to PostgreSQL 12 or newer (pg_upgrade, or your provider's upgrade).",
    )


def _wal_level(facts: Facts) -> Verdict:
    if facts.wal_level == "logical":
        return passed("wal_level is logical.")
    return failed(
        f"wal_level is {facts.wal_level}: the server writes no logical change data, "
        "so there is nothing to capture.",
        fix="ALTER SYSTEM SET wal_level = logical;\n-- then restart the PostgreSQL server",
        note=(
            "Managed databases: on AWS RDS and Aurora set rds.logical_replication = 1 in the parameter "
            "group and reboot; on Google Cloud SQL set the flag cloudsql.logical_decoding = on; on Azure "
            "set wal_level = logical in the server parameters; on Neon turn on logical replication in "
            "the project settings; Supabase has it on already."
        ),
    )


def _replication(facts: Facts) -> Verdict:
    role = facts.role
    if facts.superuser or facts.replication or facts.rds_replication:
        how = (
            "is a superuser"
            if facts.superuser
            else "has REPLICATION"
            if facts.replication
            else "is in rds_replication"
        )
        return passed(f"The role {role} {how}.")
    return failed(
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


def _slot(facts: Facts) -> Verdict:
    slot, slot_name = facts.slot, facts.slot_name
    if slot.exists and slot.ours:
        return passed(f"The slot {slot_name} already exists ({slot.description}); Pulse will reuse it.")
    if slot.exists:
        return failed(
            f"A replication slot named {slot_name} already exists and is not one Pulse can use "
            f"({slot.description}).",
            fix=f"SELECT pg_drop_replication_slot({quote_literal(slot_name)});",
            note="Drop it only if nothing else reads it; a slot in use has to be released first.",
        )
    free = facts.max_slots - facts.used_slots
    if free > 0:
        return passed(f"{free} of {facts.max_slots} replication slots are free.")
    return failed(
        f"All {facts.max_slots} replication slots (max_replication_slots) are in use.",
        fix=(
            f"ALTER SYSTEM SET max_replication_slots = {facts.max_slots + 1};\n"
            "-- then restart the PostgreSQL server\n"
            "-- or drop a slot nothing reads any more:\n"
            "SELECT slot_name, active FROM pg_replication_slots;\n"
            "SELECT pg_drop_replication_slot('unused_slot_name');"
        ),
    )


def _publication(facts: Facts) -> Verdict:
    """An existing publication passes; otherwise, can this role create the one Pulse needs?"""
    if facts.publication_exists:
        covers = (
            "all tables" if facts.publication_all_tables else (", ".join(facts.published) or "no tables yet")
        )
        return passed(f"The publication {facts.publication_name} exists and covers {covers}.")
    if not facts.wanted:
        return _publication_for_all_tables(facts)
    return _publication_for_tables(facts)


def _publication_for_all_tables(facts: Facts) -> Verdict:
    if facts.superuser:
        return passed(f"The publication {facts.publication_name} will be created for all tables.")
    return failed(
        f"A publication for all tables can only be created by a superuser, and {facts.role} is not one.",
        fix=f"CREATE PUBLICATION {quote_identifier(facts.publication_name)} FOR ALL TABLES;",
        note="Run it as a superuser, or list the tables Pulse should cover (the role must own them).",
    )


def _publication_for_tables(facts: Facts) -> Verdict:
    by_label = {table.label: table for table in facts.tables}
    missing = [name for name in facts.wanted if name not in by_label]
    if missing:
        return failed(
            f"These tables do not exist in {facts.database}: {', '.join(missing)}.",
            note="Check the names (schema.table; the public schema may be left out).",
        )
    chosen = [by_label[name] for name in facts.wanted]
    will_create = passed(
        f"The publication {facts.publication_name} will be created for {len(chosen)} tables."
    )
    if facts.superuser:
        return will_create
    role = quote_identifier(facts.role)
    fixes: list[str] = []
    problems: list[str] = []
    if not facts.can_create:
        problems.append(f"the role {facts.role} lacks the CREATE privilege on the database")
        fixes.append(f"GRANT CREATE ON DATABASE {quote_identifier(facts.database)} TO {role};")
    not_owned = [table for table in chosen if not table.owned]
    if not_owned:
        problems.append(f"it does not own {', '.join(table.qualified for table in not_owned)}")
        fixes += [f"ALTER TABLE {table.qualified} OWNER TO {role};" for table in not_owned]
    if not problems:
        return will_create
    listed = ", ".join(table.qualified for table in chosen)
    return failed(
        f"The publication cannot be created: {'; and '.join(problems)}.",
        fix="\n".join(fixes),
        note=(
            "Or create it yourself as the tables' owner: "
            f"CREATE PUBLICATION {quote_identifier(facts.publication_name)} FOR TABLE {listed};"
        ),
    )


def _replica_identity(facts: Facts) -> Verdict:
    tables = facts.captured
    lacking = [table for table in tables if table.replica_identity != "f"]
    if not tables:
        return passed("There are no tables to capture yet.")
    if not lacking:
        return passed("Every table has REPLICA IDENTITY FULL.")
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
    return failed(
        detail,
        fix="\n".join(f"ALTER TABLE {table.qualified} REPLICA IDENTITY FULL;" for table in lacking),
        note=(
            "What it costs: with FULL, PostgreSQL writes the whole old row to the WAL on every update "
            "and delete, so those write more WAL."
        ),
    )


CHECKLIST: tuple[Item, ...] = (
    Item("reachable", "Database reachable", _reachable),
    Item("version", "PostgreSQL 12 or newer", _version),
    Item("wal_level", "Logical replication enabled (wal_level = logical)", _wal_level),
    Item("replication", "The role can replicate", _replication),
    Item("slot", "A free replication slot", _slot),
    Item("publication", "Publication present or creatable", _publication),
    Item(
        "replica_identity", "Tables with REPLICA IDENTITY FULL", _replica_identity, otherwise=Status.WARNING
    ),
)


def checklist_run(facts: Facts) -> list[Check]:
    """Every item on the facts, in order."""
    return [item.run(facts) for item in CHECKLIST]
