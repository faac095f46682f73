from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.views.decorators.debug import sensitive_variables

from console.audit import Actor
from projects import services
from projects.selectors import project_get


class Command(BaseCommand):
    help = (
        "Create a project API key. Prints only the key on stdout, once: store it now, "
        "it cannot be shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", metavar="PROJECT_ID")
        parser.add_argument("name", metavar="NAME")
        parser.add_argument(
            "--expires-in-days",
            type=int,
            metavar="N",
            help="The key stops working after N days (default: never).",
        )

    @sensitive_variables("raw_key")
    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        try:
            api_key, raw_key = services.api_key_create(
                project=project,
                name=options["name"],
                expires_in_days=options["expires_in_days"],
                actor=Actor.command("createapikey"),
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        expiry = f", expires {api_key.expires:%Y-%m-%d %H:%M} UTC" if api_key.expires else ""
        self.stderr.write(
            f"Created the API key “{api_key.name}” ({api_key.masked}{expiry}) for {project.name}."
        )
        self.stdout.write(raw_key)
