"""When a project's database moves: its Pulse configuration follows without losing its place.

Two cases: a database server on this machine changed port (the embedded demo server, when another
program took its port — ``pulse_database_port_move``), and an operator pointing an enabled
project at its database's new address (``pulse_database_move``). Either way the stored,
encrypted connection string changes, the change is audited, and capture resumes from the
project's slot where the slot is still there.
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
from pulse.readiness import PLUGIN
from pulse.services import pulse_enable
from userdb.connection_strings import ConnectionStringError, parse, points_at_this_machine
from userdb.encryption import decrypt, encrypt


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
