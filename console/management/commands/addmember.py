from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import services
from console.audit import Actor
from console.models import Role
from console.selectors import organization_get, user_get_by_email


class Command(BaseCommand):
    help = "Add an existing user to an organization with a role (owner, admin, developer, viewer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization_slug")
        parser.add_argument("email")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(Role.values)}.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get(slug=options["organization_slug"])
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization_slug']}.")
        user = user_get_by_email(email=options["email"])
        if user is None:
            raise CommandError(f"No user with the email {options['email']}; create one with `createuser`.")
        try:
            membership = services.membership_add(
                organization=organization, user=user, role=options["role"], actor=Actor.command("addmember")
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"{user.email} is now {membership.get_role_display().lower()} of {organization.name}."
        )
