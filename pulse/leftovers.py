"""Replication slots the console could not drop: recorded, shown with the SQL that drops them,
and checked again (on the Pulse tab, in the admin) until the console confirms they are gone.

An unread slot keeps WAL until the user's disk fills, so a slot is never forgotten: when
disabling, a failed enable or a deletion cannot reach the database, the slot becomes a
PulseLeftoverSlot of the organization, with the encrypted connection string to try again.
"""

from __future__ import annotations

import psycopg
from django.db import transaction
from django.utils import timezone

from console.audit import Actor, audit_record
from projects.models import Project
from pulse.database import lost, user_database
from pulse.errors import PulseError
from pulse.models import PulseConfig, PulseLeftoverSlot
from pulse.replication import replication_drop
from pulse.selectors import pulse_drop_sql
from userdb.connection_strings import ConnectionStringError, parse
from userdb.encryption import DecryptionError, decrypt


def leftover_create(
    *, project: Project, slot_name: str, publication_name: str, database_label: str, token: str, error: str
) -> PulseLeftoverSlot:
    """The record of a slot the console could not drop; ``token`` is the encrypted connection string."""
    return PulseLeftoverSlot.objects.create(
        organization=project.organization,
        project=project,
        project_name=project.name,
        slot_name=slot_name,
        publication_name=publication_name,
        database_label=database_label,
        connection_string=token,
        last_checked_at=timezone.now(),
        last_error=error[:500],
    )


def leftover_record(
    *,
    project: Project,
    database_label: str,
    token: str,
    slot_name: str,
    publication_name: str,
    error: str,
    actor: Actor,
) -> PulseLeftoverSlot:
    """A slot left behind by a failed enable: recorded, and audited, in a transaction of its own."""
    with transaction.atomic():
        leftover = leftover_create(
            project=project,
            slot_name=slot_name,
            publication_name=publication_name,
            database_label=database_label,
            token=token,
            error=error,
        )
        audit_record(
            actor=actor,
            organization=project.organization,
            action="pulse.leftover_slot",
            target=project,
            details={"slot": slot_name, "publication": publication_name, "database": database_label},
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
                replication_drop(
                    connection, slot_name=leftover.slot_name, publication_name=leftover.publication_name
                )
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


def leftover_messages(leftovers: list[PulseLeftoverSlot]) -> list[str]:
    """What deleting a project or an organization tells the user about each slot still left."""
    return [
        f"Pulse's replication slot {slot.slot_name} is still on {slot.database_label} (the database did not "
        f"answer), and it keeps WAL until the disk fills. Drop it there: "
        + pulse_drop_sql(slot_name=slot.slot_name, publication_name=slot.publication_name).replace("\n", " ")
        for slot in leftovers
    ]
