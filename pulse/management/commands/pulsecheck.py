from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pulse.readiness import readiness_check
from pulse.services import PulseError, pulse_tables_clean

DEFAULT_NAME = "console_pulse_check"


class Command(BaseCommand):
    help = (
        "Check whether a PostgreSQL database is ready for Pulse and print the checklist with the SQL that "
        "fixes each failing item. Exits non-zero when a blocking check fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="The database's PostgreSQL connection string.")
        parser.add_argument(
            "--tables", default="", help="Comma-separated tables to cover; default: all tables."
        )
        parser.add_argument(
            "--slot",
            default=DEFAULT_NAME,
            help="The slot and publication name to check for (a project's is console_pulse_<short id>).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tables = pulse_tables_clean(options["tables"])
        except PulseError as error:
            raise CommandError(error.message) from None
        readiness = readiness_check(
            connection_string=options["url"],
            slot_name=options["slot"],
            publication_name=options["slot"],
            tables=tables,
        )
        if readiness.database_label:
            self.stdout.write(f"Database: {readiness.database_label}")
        for check in readiness.checks:
            self.stdout.write(f"[{check.status}] {check.title}: {check.detail}")
            if check.fix and check.status != "pass":
                self.stdout.write("    " + check.fix.replace("\n", "\n    "))
            if check.note and check.status != "pass":
                self.stdout.write("    " + check.note)
        if not readiness.ready:
            raise CommandError("The database is not ready for Pulse.")
        self.stdout.write("Ready for Pulse.")
