from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import services


class Command(BaseCommand):
    help = "Create a console user. The password is read from standard input with --password-stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from the first line of standard input.",
        )
        access = parser.add_mutually_exclusive_group()
        access.add_argument(
            "--staff",
            action="store_true",
            help="Allow this user into Django admin with no permissions until a superuser grants some "
            "(the user's Permissions, or a group).",
        )
        access.add_argument(
            "--superuser",
            action="store_true",
            help="Allow this user into Django admin with every permission.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = None
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
            if not password:
                raise CommandError("No password on standard input.")
            try:
                validate_password(password)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        try:
            user = services.user_create(
                email=options["email"],
                password=password,
                name=options["name"],
                is_staff=options["staff"],
                is_superuser=options["superuser"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(user.email)
        if user.is_superuser:
            self.stderr.write("A superuser: Django admin with every permission.")
        elif user.is_staff:
            self.stderr.write(
                "Staff without permissions yet: a superuser grants them in Django admin "
                "(Users › Permissions, or a group)."
            )
        if password is None:
            self.stderr.write("The user has no password yet: set one with `manage.py changepassword EMAIL`.")
