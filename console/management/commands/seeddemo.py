from __future__ import annotations

import importlib
import sys
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.audit import Actor
from console.demo import demo_seed_core
from devtools import devsecrets


class Command(BaseCommand):
    help = (
        "Create (or bring back) the demo login, organization and project; idempotent. Each app that has "
        "a demo module with seed(organization=, user=, actor=, write=) adds its part (and may print "
        "hints), in INSTALLED_APPS order."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the demo password from stdin."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        elif settings.EMBEDDED:
            password = devsecrets.load_or_create(settings.DATA_DIR / "secrets.json")["DEMO_PASSWORD"]
        else:
            raise CommandError(
                "Outside the embedded development mode, give the demo password with --password-stdin."
            )
        if len(password) < 8:
            raise CommandError("The demo password needs at least 8 characters.")
        user, organization = demo_seed_core(password=password)
        self.stdout.write(f"Demo login: {user.email} / {password}")
        actor = Actor.command("seeddemo")
        # Apps contribute without the core importing them (dependencies point one way).
        for app in apps.get_app_configs():
            if app.name == "console":
                continue
            try:
                module = importlib.import_module(f"{app.name}.demo")
            except ModuleNotFoundError as missing:
                if missing.name != f"{app.name}.demo":
                    raise
                continue
            module.seed(organization=organization, user=user, actor=actor, write=self.stdout.write)
