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
from userdb.connection_strings import parse


class Command(BaseCommand):
    help = (
        "Create (or bring back) the demo login, organization and project; idempotent. Each app that has "
        "a demo module with seed(organization=, user=, actor=, write=) adds its part (and may print "
        "hints), in INSTALLED_APPS order; with server_moved(old_port=, new_port=, actor=, write=) it "
        "follows the embedded demo server to a new port."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the demo password from stdin."
        )
        parser.add_argument(
            "--demo-server-moved-from",
            type=int,
            action="append",
            default=[],
            metavar="PORT",
            help=(
                "The embedded demo server listened on PORT until another program took it: every stored "
                "connection string that names this machine and PORT follows it to its new port first."
            ),
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
        modules = self._demo_modules()
        moved_from = options["demo_server_moved_from"]
        if moved_from:
            if not settings.EMBEDDED or not settings.DEMO_DATABASE_URL:
                raise CommandError("--demo-server-moved-from is for the embedded development mode.")
            new_port = parse(settings.DEMO_DATABASE_URL).port
            for old_port in moved_from:
                if old_port == new_port:
                    continue
                self.stdout.write(f"The demo server moved from port {old_port} to {new_port}.")
                for module in modules:
                    if hasattr(module, "server_moved"):
                        module.server_moved(
                            old_port=old_port, new_port=new_port, actor=actor, write=self.stdout.write
                        )
        for module in modules:
            module.seed(organization=organization, user=user, actor=actor, write=self.stdout.write)

    def _demo_modules(self) -> list[Any]:
        """Each app's demo module, in INSTALLED_APPS order: apps contribute without the core
        importing them (dependencies point one way)."""
        modules = []
        for app in apps.get_app_configs():
            if app.name == "console":
                continue
            try:
                modules.append(importlib.import_module(f"{app.name}.demo"))
            except ModuleNotFoundError as missing:
                if missing.name != f"{app.name}.demo":
                    raise
        return modules
