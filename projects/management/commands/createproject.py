from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.audit import Actor
from console.selectors import organization_get
from projects import services


class Command(BaseCommand):
    help = "Create a project in an organization. Prints only the new project's id on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization_slug", metavar="ORG_SLUG")
        parser.add_argument("name", metavar="NAME")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get(slug=options["organization_slug"])
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization_slug']}.")
        try:
            project = services.project_create(
                organization=organization, name=options["name"], actor=Actor.command("createproject")
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(f"Created the project “{project.name}” in {organization.name}.")
        self.stdout.write(str(project.pk))
