from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from usage.metering import usage_prune


class Command(BaseCommand):
    help = (
        "Delete usage rows past retention: hourly rows older than USAGE_HOURLY_RETENTION_DAYS (their "
        "daily rows keep the counts) and daily rows older than USAGE_RETENTION_DAYS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = usage_prune()
        self.stdout.write(
            f"Deleted {result.hourly_deleted:,} hourly rows before {result.hourly_before:%Y-%m-%d %H:%M} UTC "
            f"({settings.USAGE_HOURLY_RETENTION_DAYS} days) and {result.daily_deleted:,} daily rows before "
            f"{result.daily_before} ({settings.USAGE_RETENTION_DAYS} days)."
        )
