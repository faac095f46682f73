from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.audit import Actor
from projects.selectors import project_get
from pulse.selectors import pulse_drop_sql
from pulse.services import PulseError, pulse_disable


class Command(BaseCommand):
    help = (
        "Disable Pulse for a project and drop its replication slot and publication; when the database "
        "cannot be reached, record the slot as left behind and print the SQL to drop it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", type=uuid.UUID, help="The project's id (a UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        try:
            result = pulse_disable(project=project, actor=Actor.command("disablepulse"))
        except PulseError as error:
            raise CommandError(error.message) from None
        self.stdout.write(result.message)
        if result.leftover is not None:
            leftover = result.leftover
            self.stdout.write(
                f"Run this on {leftover.database_label}:\n"
                + pulse_drop_sql(slot_name=leftover.slot_name, publication_name=leftover.publication_name)
            )
