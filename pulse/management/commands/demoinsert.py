from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pulse.demo import demo_insert
from pulse.services import PulseError


class Command(BaseCommand):
    help = (
        "Insert a user and a post into the embedded server's demo database, so that Pulse captures "
        "them (watch the demo project's Pulse tab)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stdout.write(demo_insert())
        except PulseError as error:
            raise CommandError(error.message) from None
