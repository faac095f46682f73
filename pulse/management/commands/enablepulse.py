from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.audit import Actor
from projects.selectors import project_get
from pulse.checklist import Status
from pulse.services import PulseError, pulse_enable, pulse_tables_clean
from userdb.regions import region_choices


class Command(BaseCommand):
    help = (
        "Enable Pulse for a project: check the database, create the publication and the logical "
        "replication slot, and store the connection string encrypted."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", type=uuid.UUID, help="The project's id (a UUID).")
        parser.add_argument("--url", required=True, help="The database's PostgreSQL connection string.")
        parser.add_argument("--region", required=True, choices=[code for code, _ in region_choices()])
        parser.add_argument(
            "--tables", default="", help="Comma-separated tables to cover; default: all tables."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        try:
            config = pulse_enable(
                project=project,
                connection_string=options["url"],
                region=options["region"],
                tables=pulse_tables_clean(options["tables"]),
                actor=Actor.command("enablepulse"),
            )
        except PulseError as error:
            if error.readiness is not None:
                for check in error.readiness.checks:
                    if check.status in (Status.FAIL, Status.WARNING):
                        self.stderr.write(f"[{check.status}] {check.title}: {check.detail}")
                        if check.fix:
                            self.stderr.write("    " + check.fix.replace("\n", "\n    "))
                raise CommandError("The database is not ready for Pulse (see the checks above).") from None
            raise CommandError(error.message) from None
        covered = ", ".join(config.tables) or "all tables"
        self.stdout.write(
            f"Pulse is enabled for {project.name}: slot {config.slot_name}, publication "
            f"{config.publication_name} ({covered}), region {config.region}, "
            f"database {config.database_label}."
        )
