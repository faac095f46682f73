"""Writes of Pulse: enable, disable, release before a deletion; the event log and the streams' positions.

Enabling and disabling change two databases: the user's (publication, replication slot)
and the console's (the configuration). They cannot share a transaction, so the services
order the steps and undo their own work when a later step fails: there is never a slot
without a configuration or a configuration without a slot that the console does not know
about. A slot the console could not drop is recorded (PulseLeftoverSlot) and shown until
the console confirms it is gone, because an unread slot keeps WAL until the disk fills
(pulse/leftovers.py). The statements run in the user's database are in pulse/replication.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from functools import partial

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from console.audit import Actor, audit_record
from console.models import Organization
from projects.models import Project
from pulse.database import lost, user_database
from pulse.errors import PulseError as PulseError  # what every service here raises
from pulse.leftovers import leftover_create, leftover_messages, leftover_record
from pulse.models import PulseConfig, PulseEvent, PulseLeftoverSlot, PulseStream
from pulse.readiness import Readiness, readiness_run, table_names_parse
from pulse.replication import publication_create, replication_drop, slot_create
from userdb.connection_strings import ConnectionString, ConnectionStringError, parse
from userdb.encryption import DecryptionError, decrypt, encrypt
from userdb.regions import region_choices

logger = logging.getLogger(__name__)

SLOT_PREFIX = "console_pulse_"


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
    if PulseConfig.objects.filter(project=project, enabled=True).exists():
        raise PulseError("Pulse is already enabled for this project.")
    try:
        parsed = parse(connection_string)
    except ConnectionStringError as error:
        raise PulseError(error.message) from None
    name = pulse_slot_name(project)
    created: list[str] = []  # "publication", "slot": what to undo
    try:
        with user_database(parsed) as connection:
            readiness = _ready(connection, parsed=parsed, name=name, tables=tables)
            try:
                covered = _replication_create(
                    connection, readiness=readiness, name=name, tables=tables, created=created
                )
                return _config_store(
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


def _ready(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    parsed: ConnectionString,
    name: str,
    tables: list[str],
) -> Readiness:
    """The checklist, on the connection enabling goes on with; PulseError when a check fails."""
    readiness = readiness_run(connection, parsed=parsed, slot_name=name, publication_name=name, tables=tables)
    if not readiness.ready:
        raise PulseError(
            "The database is not ready for Pulse: " + readiness.failure_message(), readiness=readiness
        )
    return readiness


def _replication_create(
    connection: psycopg.Connection[tuple[object, ...]],
    *,
    readiness: Readiness,
    name: str,
    tables: list[str],
    created: list[str],
) -> list[str]:
    """Create the publication and the slot unless they exist (noting each in ``created`` first, for
    the undo); the tables the publication covers."""
    covered = tables
    if readiness.publication_exists:
        covered = readiness.publication_tables or []
    else:
        created.append("publication")
        publication_create(connection, name, tables)
    if not readiness.slot.exists:
        created.append("slot")
        slot_create(connection, name)
    return covered


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

    drop = partial(
        replication_drop,
        slot_name=name,
        publication_name=name,
        slot="slot" in created,
        publication="publication" in created,
    )
    try:
        if connection.closed or connection.broken:
            with user_database(parsed) as fresh:
                drop(fresh)
        else:
            connection.execute("RESET statement_timeout")
            drop(connection)
    except (psycopg.Error, ConnectionStringError) as error:
        logger.warning(
            "Could not undo a failed Pulse enable for project %s: %s", project.pk, type(error).__name__
        )
        if "slot" in created:
            leftover_record(
                project=project,
                database_label=parsed.redacted(),
                token=encrypt(connection_string.strip()),
                slot_name=name,
                publication_name=name,
                error="Enabling failed part-way and the database could not be reached to drop the slot.",
                actor=actor,
            )


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
            replication_drop(connection, slot_name=config.slot_name, publication_name=config.publication_name)
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
        leftover = leftover_create(
            project=project,
            slot_name=config.slot_name,
            publication_name=config.publication_name,
            database_label=config.database_label,
            token=token,
            error=error,
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


def pulse_release_project_hook(project: Project, actor: Actor) -> list[str]:
    """The product hook run before a project is deleted (see console/products.py)."""
    return leftover_messages(pulse_release_for_project(project=project, actor=actor))


def pulse_release_organization_hook(organization: Organization, actor: Actor) -> list[str]:
    """The product hook run before an organization is deleted (see console/products.py)."""
    return leftover_messages(pulse_release_for_organization(organization=organization, actor=actor))


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
