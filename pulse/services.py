"""Writes of Pulse: enable, disable, leftover slots.

Enabling and disabling change two databases: the user's (publication, replication slot)
and the console's (the configuration). They cannot share a transaction, so the services
order the steps and undo their own work when a later step fails: there is never a slot
without a configuration or a configuration without a slot that the console does not know
about. A slot the console could not drop is recorded (PulseLeftoverSlot) and shown until
the console confirms it is gone, because an unread slot keeps WAL until the disk fills.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from console.audit import Actor, audit_record
from console.models import Organization
from projects.models import Project
from pulse.database import lost, user_database
from pulse.models import PulseConfig, PulseEvent, PulseLeftoverSlot, PulseStream
from pulse.readiness import PLUGIN, Readiness, readiness_run, table_names_parse
from pulse.selectors import pulse_drop_sql
from userdb.connection_strings import ConnectionString, ConnectionStringError, parse, points_at_this_machine
from userdb.encryption import DecryptionError, decrypt, encrypt
from userdb.regions import region_choices

logger = logging.getLogger(__name__)

SLOT_PREFIX = "console_pulse_"


class PulseError(Exception):
    """Pulse could not be enabled or changed. ``message`` is safe to show; ``readiness`` is the
    checklist when failing checks were the reason."""

    def __init__(self, message: str, *, readiness: Readiness | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.readiness = readiness


def pulse_slot_name(project: Project) -> str:
    """The replication slot (and publication) name for the project: ``console_pulse_<short id>``."""
    return f"{SLOT_PREFIX}{project.short_id}"


def pulse_tables_clean(text: str) -> list[str]:
    """The tables a user typed, as ``schema.table`` names; empty for all tables. PulseError if malformed."""
    try:
        return table_names_parse(text)
    except ValueError as error:
        raise PulseError(str(error)) from None


def pulse_region_clean(region: str) -> str:
    if region not in dict(region_choices()):
        raise PulseError("Choose one of the regions offered.")
    return region


def pulse_enable(
    *, project: Project, connection_string: str, region: str, tables: list[str], actor: Actor
) -> PulseConfig:
    """Check the database, create the publication and the slot, then store the configuration.

    All or nothing: when a step fails, the publication and slot this call created are
    dropped again (or, when the database went away mid-way, the slot is recorded as a
    leftover and shown to the user), and PulseError says why. A slot of the project's
    name is reused only if it is ours (pgoutput, this database, not in use).
    """
    region = pulse_region_clean(region)
    tables = pulse_tables_clean(",".join(tables))
    existing = PulseConfig.objects.filter(project=project).first()
    if existing is not None and existing.enabled:
        raise PulseError("Pulse is already enabled for this project.")
    try:
        parsed = parse(connection_string)
    except ConnectionStringError as error:
        raise PulseError(error.message) from None
    name = pulse_slot_name(project)
    created: list[str] = []  # "publication", "slot": what to undo
    try:
        with user_database(parsed) as connection:
            readiness = readiness_run(
                connection, parsed=parsed, slot_name=name, publication_name=name, tables=tables
            )
            if not readiness.ready:
                raise PulseError(
                    "The database is not ready for Pulse: " + readiness.failure_message(), readiness=readiness
                )
            covered = tables
            try:
                if readiness.publication_exists:
                    covered = readiness.publication_tables or []
                else:
                    created.append("publication")
                    _publication_create(connection, name, tables)
                if not readiness.slot.exists:
                    created.append("slot")
                    _slot_create(connection, name)
                config = _config_store(
                    project=project,
                    parsed=parsed,
                    connection_string=connection_string,
                    region=region,
                    tables=covered,
                    name=name,
                    actor=actor,
                    reused_slot=readiness.slot.exists,
                )
            except BaseException:
                _enable_undo(
                    connection,
                    parsed=parsed,
                    connection_string=connection_string,
                    project=project,
                    name=name,
                    created=created,
                    actor=actor,
                )
                raise
    except psycopg.Error as error:
        raise PulseError(lost(error, parsed).message) from None
    except ConnectionStringError as error:
        raise PulseError(error.message) from None
    return config


def _publication_create(
    connection: psycopg.Connection[tuple[object, ...]], name: str, tables: list[str]
) -> None:
    if tables:
        listed = sql.SQL(", ").join(sql.Identifier(*table.split(".", 1)) for table in tables)
        statement = sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(sql.Identifier(name), listed)
    else:
        statement = sql.SQL("CREATE PUBLICATION {} FOR ALL TABLES").format(sql.Identifier(name))
    connection.execute(statement)


def _slot_create(connection: psycopg.Connection[tuple[object, ...]], name: str) -> None:
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


@transaction.atomic
def _config_store(
    *,
    project: Project,
    parsed: ConnectionString,
    connection_string: str,
    region: str,
    tables: list[str],
    name: str,
    actor: Actor,
    reused_slot: bool,
) -> PulseConfig:
    now = timezone.now()
    config, _ = PulseConfig.objects.select_for_update().get_or_create(
        project=project, defaults={"region": region, "slot_name": name, "publication_name": name}
    )
    if config.enabled:
        raise PulseError("Pulse was enabled for this project by someone else meanwhile.")
    config.enabled = True
    config.connection_string = encrypt(connection_string.strip())
    config.database_label = parsed.redacted()
    config.region = region
    config.slot_name = name
    config.publication_name = name
    config.tables = tables
    config.enabled_at = now
    config.enabled_by = actor.user
    config.updated = now
    config.last_captured_at = None
    config.confirmed_lsn = None
    config.last_error = ""
    config.last_error_at = None
    config.save()
    # The slot now has a configuration: a leftover record of the same slot is settled.
    PulseLeftoverSlot.objects.filter(organization=project.organization, slot_name=name).delete()
    audit_record(
        actor=actor,
        organization=project.organization,
        action="pulse.enable",
        target=project,
        details={
            "slot": name,
            "publication": name,
            "region": region,
            "tables": tables or "all",
            "database": parsed.redacted(),
            "reused_slot": reused_slot,
        },
    )
    return config


def _enable_undo(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    parsed: ConnectionString,
    connection_string: str,
    project: Project,
    name: str,
    created: list[str],
    actor: Actor,
) -> None:
    """Drop what a failed enable created; record the slot as left behind if the database is gone."""
    if not created:
        return
    try:
        if connection.closed or connection.broken:
            with user_database(parsed) as fresh:
                _drop(
                    fresh,
                    slot_name=name,
                    publication_name=name,
                    slot="slot" in created,
                    publication="publication" in created,
                )
        else:
            connection.execute("RESET statement_timeout")
            _drop(
                connection,
                slot_name=name,
                publication_name=name,
                slot="slot" in created,
                publication="publication" in created,
            )
    except (psycopg.Error, ConnectionStringError) as error:
        logger.warning(
            "Could not undo a failed Pulse enable for project %s: %s", project.pk, type(error).__name__
        )
        if "slot" in created:
            _leftover_record(
                project=project,
                parsed=parsed,
                token=encrypt(connection_string.strip()),
                slot_name=name,
                publication_name=name,
                error="Enabling failed part-way and the database could not be reached to drop the slot.",
                actor=actor,
            )


def _drop(
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


@dataclass(frozen=True)
class DisableResult:
    dropped: bool  # the slot and publication were dropped (or already gone)
    leftover: PulseLeftoverSlot | None  # recorded when the database could not be reached
    message: str


def pulse_disable(*, project: Project, actor: Actor) -> DisableResult:
    """Disable Pulse for the project; drop its slot and publication when the database answers.

    When it does not, Pulse is disabled all the same, and the slot is recorded as a leftover
    (shown with the SQL to drop it until the console confirms it is gone). Raises PulseError
    when Pulse is not enabled.
    """
    config = PulseConfig.objects.filter(project=project, enabled=True).first()
    if config is None:
        raise PulseError("Pulse is not enabled for this project.")
    token = config.connection_string
    error = ""
    try:
        parsed = parse(decrypt(token))
        with user_database(parsed) as connection:
            _drop(connection, slot_name=config.slot_name, publication_name=config.publication_name)
    except DecryptionError as failure:
        error = str(failure)
    except ConnectionStringError as failure:
        error = failure.message
    except PulseError as failure:
        error = failure.message
    except psycopg.Error as failure:
        error = lost(failure, parsed).message
    return _disabled_store(config=config, token=token, error=error, actor=actor)


@transaction.atomic
def _disabled_store(*, config: PulseConfig, token: str, error: str, actor: Actor) -> DisableResult:
    project = config.project
    leftover = None
    if error:
        leftover = PulseLeftoverSlot.objects.create(
            organization=project.organization,
            project=project,
            project_name=project.name,
            slot_name=config.slot_name,
            publication_name=config.publication_name,
            database_label=config.database_label,
            connection_string=token,
            last_checked_at=timezone.now(),
            last_error=error[:500],
        )
    details = {
        "slot": config.slot_name,
        "publication": config.publication_name,
        "database": config.database_label,
        "dropped": not error,
    }
    if error:
        details["error"] = error
    config.enabled = False
    config.connection_string = ""
    config.updated = timezone.now()
    config.save(update_fields=["enabled", "connection_string", "updated"])
    audit_record(
        actor=actor,
        organization=project.organization,
        action="pulse.disable",
        target=project,
        details=details,
    )
    if leftover is None:
        message = (
            f"Pulse is disabled. The replication slot {config.slot_name} and the publication "
            f"{config.publication_name} were dropped from your database."
        )
    else:
        message = (
            f"Pulse is disabled, but the database could not be reached ({error}) so the replication slot "
            f"{config.slot_name} is still there: drop it as shown, or the console drops it once the "
            "database answers."
        )
    return DisableResult(dropped=leftover is None, leftover=leftover, message=message)


def _leftover_record(
    *,
    project: Project,
    parsed: ConnectionString,
    token: str,
    slot_name: str,
    publication_name: str,
    error: str,
    actor: Actor,
) -> PulseLeftoverSlot:
    with transaction.atomic():
        leftover = PulseLeftoverSlot.objects.create(
            organization=project.organization,
            project=project,
            project_name=project.name,
            slot_name=slot_name,
            publication_name=publication_name,
            database_label=parsed.redacted(),
            connection_string=token,
            last_checked_at=timezone.now(),
            last_error=error[:500],
        )
        audit_record(
            actor=actor,
            organization=project.organization,
            action="pulse.leftover_slot",
            target=project,
            details={"slot": slot_name, "publication": publication_name, "database": parsed.redacted()},
        )
    return leftover


def pulse_leftover_recheck(*, leftover: PulseLeftoverSlot, actor: Actor) -> bool:
    """Connect to the leftover's database; drop the slot and publication if they are still there.

    True (and the record is deleted) once the slot is confirmed gone; False with the reason
    kept in ``last_error`` while the database cannot be reached. A slot that a new
    configuration of the project uses again is not dropped: it is no longer left over.
    """
    in_use = PulseConfig.objects.filter(
        project__organization=leftover.organization, enabled=True, slot_name=leftover.slot_name
    ).exists()
    error = ""
    found = False
    if not in_use:
        try:
            parsed = parse(decrypt(leftover.connection_string))
            with user_database(parsed) as connection:
                found = (
                    connection.execute(
                        "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [leftover.slot_name]
                    ).fetchone()
                    is not None
                )
                _drop(connection, slot_name=leftover.slot_name, publication_name=leftover.publication_name)
        except DecryptionError as failure:
            error = str(failure)
        except (ConnectionStringError, PulseError) as failure:
            error = failure.message
        except psycopg.Error as failure:
            error = lost(failure, parsed).message
    with transaction.atomic():
        if error:
            leftover.last_checked_at = timezone.now()
            leftover.last_error = error[:500]
            leftover.save(update_fields=["last_checked_at", "last_error"])
            return False
        leftover.delete()
        audit_record(
            actor=actor,
            organization=leftover.organization,
            action="pulse.leftover_slot.dropped" if found else "pulse.leftover_slot.gone",
            target_label=leftover.project_name,
            details={
                "slot": leftover.slot_name,
                "publication": leftover.publication_name,
                "database": leftover.database_label,
                "reused": in_use,
            },
        )
    return True


def pulse_release_for_project(*, project: Project, actor: Actor) -> list[PulseLeftoverSlot]:
    """Before a project is deleted: disable Pulse (dropping its slot when the database answers).

    Returns the project's leftover slots, still to drop by hand; they stay recorded on the
    organization (their ``project`` becomes NULL when the project row goes).
    """
    if PulseConfig.objects.filter(project=project, enabled=True).exists():
        pulse_disable(project=project, actor=actor)
    return list(PulseLeftoverSlot.objects.filter(project=project))


def pulse_release_for_organization(*, organization: Organization, actor: Actor) -> list[PulseLeftoverSlot]:
    """Before an organization is deleted: release every project's Pulse; the leftovers to report.

    The records go with the organization, so callers show what is returned (slot, database, SQL).
    """
    for project in Project.objects.filter(organization=organization, pulse_config__enabled=True):
        pulse_disable(project=project, actor=actor)
    return list(PulseLeftoverSlot.objects.filter(organization=organization))


def _leftover_messages(leftovers: list[PulseLeftoverSlot]) -> list[str]:
    return [
        f"Pulse's replication slot {slot.slot_name} is still on {slot.database_label} (the database did not "
        f"answer), and it keeps WAL until the disk fills. Drop it there: "
        + pulse_drop_sql(slot_name=slot.slot_name, publication_name=slot.publication_name).replace("\n", " ")
        for slot in leftovers
    ]


def pulse_release_project_hook(project: Project, actor: Actor) -> list[str]:
    """The product hook run before a project is deleted (see console/products.py)."""
    return _leftover_messages(pulse_release_for_project(project=project, actor=actor))


def pulse_release_organization_hook(organization: Organization, actor: Actor) -> list[str]:
    """The product hook run before an organization is deleted (see console/products.py)."""
    return _leftover_messages(pulse_release_for_organization(organization=organization, actor=actor))


# --- The event log ------------------------------------------------------------------------------


def pulse_events_prune(*, before: dt.datetime, batch_size: int = 5000, max_batches: int = 100) -> int:
    """Delete events captured before ``before`` (retention: PULSE_RETENTION_DAYS), in small batches
    so that no long transaction holds up the capture; returns how many were deleted. What is
    left after ``max_batches`` goes on the next call."""
    table = PulseEvent._meta.db_table
    deleted = 0
    for _ in range(max_batches):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - our table name, values are parameters
                f"(SELECT id FROM {table} WHERE captured_at < %s LIMIT %s)",
                [before, batch_size],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            break
    return deleted


def pulse_stream_open(*, project_id: uuid.UUID, name: str, present: int) -> int:
    """Where the named stream resumes: after its last acknowledged event; a name seen for the
    first time is created at ``present`` (the project's newest event), so it starts from now
    and every later connection resumes from there."""
    stream, _ = PulseStream.objects.get_or_create(
        project_id=project_id, name=name, defaults={"acknowledged_id": present}
    )
    return stream.acknowledged_id


def pulse_stream_acknowledge(*, project_id: uuid.UUID, name: str, event_id: int) -> PulseStream:
    """Record that the named stream's application has processed every event up to ``event_id``.

    Acknowledgements only move forward (an older, late one changes nothing); acknowledging a
    name that was never opened creates it there."""
    stream, _ = PulseStream.objects.get_or_create(
        project_id=project_id, name=name, defaults={"acknowledged_id": event_id}
    )
    PulseStream.objects.filter(pk=stream.pk, acknowledged_id__lt=event_id).update(
        acknowledged_id=event_id, updated=timezone.now()
    )
    stream.refresh_from_db()
    return stream


def pulse_database_port_move(*, old_port: int, new_port: int, actor: Actor) -> list[Project]:
    """A database server on this machine moved from ``old_port`` to ``new_port`` (the embedded
    demo server, when another program took its port): every enabled configuration and every
    leftover slot whose connection string names this machine and ``old_port`` now names
    ``new_port``. The slot is the same one on the same server, so capture resumes where it was.

    Stored encrypted; each configuration's change is audited as ``pulse.database_moved``.
    Returns the projects whose configuration changed.
    """
    moved: list[Project] = []
    for config_id in PulseConfig.objects.filter(enabled=True).values_list("pk", flat=True):
        with transaction.atomic():
            config = (
                PulseConfig.objects.select_for_update()
                .select_related("project__organization")
                .get(pk=config_id)
            )
            if not config.enabled or not config.connection_string:
                continue
            current = decrypt(config.connection_string)
            if not points_at_this_machine(current, old_port):
                continue
            moved_to = parse(current).with_port(new_port)
            config.connection_string = encrypt(moved_to)
            config.database_label = parse(moved_to).redacted()
            config.updated = timezone.now()
            config.save(update_fields=["connection_string", "database_label", "updated"])
            audit_record(
                actor=actor,
                organization=config.project.organization,
                action="pulse.database_moved",
                target=config.project,
                details={"database": config.database_label, "from_port": old_port, "to_port": new_port},
            )
            moved.append(config.project)
    for leftover in PulseLeftoverSlot.objects.all():
        current = decrypt(leftover.connection_string)
        if points_at_this_machine(current, old_port):
            moved_to = parse(current).with_port(new_port)
            leftover.connection_string = encrypt(moved_to)
            leftover.database_label = parse(moved_to).redacted()
            leftover.save(update_fields=["connection_string", "database_label"])
    return moved


def pulse_database_move(
    *, project: Project, connection_string: str, tables: list[str], actor: Actor
) -> PulseConfig:
    """Point the project's enabled Pulse at its database's new place, without contacting the old
    one (which is gone or out of reach). Where the project's slot exists at the new place, it is
    kept and capture resumes from it; where it does not, Pulse is enabled there afresh (for
    ``tables``; changes made in between are not captured). Raises PulseError as pulse_enable does.
    """
    config = PulseConfig.objects.filter(project=project, enabled=True).first()
    if config is None:
        raise PulseError("Pulse is not enabled for this project.")
    try:
        parsed = parse(connection_string)
        with user_database(parsed) as connection:
            slot = connection.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s AND database = current_database() "
                "AND plugin = %s",
                [config.slot_name, PLUGIN],
            ).fetchone()
    except ConnectionStringError as error:
        raise PulseError(error.message) from None
    except psycopg.Error as error:
        raise PulseError(lost(error, parsed).message) from None
    if slot is not None:
        with transaction.atomic():
            locked = PulseConfig.objects.select_for_update().get(pk=config.pk)
            locked.connection_string = encrypt(connection_string.strip())
            locked.database_label = parsed.redacted()
            locked.updated = timezone.now()
            locked.save(update_fields=["connection_string", "database_label", "updated"])
            audit_record(
                actor=actor,
                organization=project.organization,
                action="pulse.database_moved",
                target=project,
                details={"database": locked.database_label, "slot": locked.slot_name},
            )
        return locked
    with transaction.atomic():
        locked = PulseConfig.objects.select_for_update().get(pk=config.pk)
        old_label = locked.database_label
        locked.enabled = False
        locked.connection_string = ""
        locked.updated = timezone.now()
        locked.save(update_fields=["enabled", "connection_string", "updated"])
        audit_record(
            actor=actor,
            organization=project.organization,
            action="pulse.database_moved",
            target=project,
            details={"from": old_label, "database": parsed.redacted(), "slot": locked.slot_name},
        )
    return pulse_enable(
        project=project, connection_string=connection_string, region=config.region, tables=tables, actor=actor
    )
