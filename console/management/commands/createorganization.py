from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import services
from console.audit import Actor
from console.selectors import user_get_by_email


class Command(BaseCommand):
    help = "Create an organization owned by an existing user. Prints only the new slug on stdout."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="Email of the user who will own it.")
        parser.add_argument("--slug", help="The URL slug; derived from the name when omitted.")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = user_get_by_email(email=options["owner"])
        if owner is None:
            raise CommandError(f"No user with the email {options['owner']}; create one with `createuser`.")
        try:
            organization = services.organization_create(
                name=options["name"],
                owner=owner,
                slug=options["slug"],
                actor=Actor.command("createorganization"),
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stderr.write(f"Created {organization.name}, owned by {owner.email}.")
        self.stdout.write(organization.slug)
