from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.audit import Actor
from projects import services
from projects.keys import DISPLAY_LENGTH, KEY_PREFIX
from projects.selectors import project_get


class Command(BaseCommand):
    help = (
        "Delete a project API key, named by the prefix the console shows (dpk_Ab3x9QpL…). "
        "Irreversible: applications using the key stop working within a second."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", metavar="PROJECT_ID")
        parser.add_argument("key_prefix", metavar="KEY_PREFIX", help="e.g. dpk_Ab3x9QpL or Ab3x9QpL")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        prefix = options["key_prefix"].strip().rstrip("…").removesuffix("...").removeprefix(KEY_PREFIX)
        if len(prefix) != DISPLAY_LENGTH:
            raise CommandError(
                f"A key prefix has {DISPLAY_LENGTH} characters after {KEY_PREFIX} "
                f"(as in {KEY_PREFIX}Ab3x9QpL…); “{options['key_prefix']}” does not."
            )
        matches = list(project.api_keys.filter(prefix=prefix))
        if not matches:
            raise CommandError(f"The project {project.name} has no API key {KEY_PREFIX}{prefix}….")
        if len(matches) > 1:
            raise CommandError(
                f"{len(matches)} keys of {project.name} start with {KEY_PREFIX}{prefix}; "
                "delete them in the console, where each has its own trash can."
            )
        api_key = matches[0]
        services.api_key_delete(api_key=api_key, actor=Actor.command("deleteapikey"))
        self.stdout.write(f"Deleted the API key “{api_key.name}” ({api_key.masked}) of {project.name}.")
