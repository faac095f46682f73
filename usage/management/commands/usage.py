from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.selectors import organization_get
from usage.charts import format_bytes
from usage.metering import METRICS
from usage.selectors import (
    BYTE_METRICS,
    PRODUCT_NAMES,
    UsageRange,
    metric_name,
    usage_project_names,
    usage_report,
    usage_totals,
)


class Command(BaseCommand):
    help = (
        "Print an organization's usage over the last N UTC days (today included): the totals the "
        "Usage page shows, and per project."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization_slug")
        parser.add_argument(
            "--days", type=int, default=30, help="How many UTC days, today included (default 30)."
        )
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get(slug=options["organization_slug"])
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization_slug']}.")
        days = options["days"]
        if not 1 <= days <= settings.USAGE_RETENTION_DAYS:
            raise CommandError(
                f"--days must be between 1 and {settings.USAGE_RETENTION_DAYS} (USAGE_RETENTION_DAYS)."
            )
        project_names = usage_project_names(organization=organization)
        report = usage_report(
            organization=organization, usage_range=UsageRange.days(days), project_names=project_names
        )
        first, last = report.start.date(), report.buckets[-1].date()
        if options["json"]:
            document = {
                "organization": organization.slug,
                "from": first.isoformat(),
                "to": last.isoformat(),
                "days": days,
                "timeZone": "UTC",
                "totals": usage_totals(report),
                "projects": [
                    {
                        "id": str(row.project_id) if row.project_id else None,
                        "name": row.name,
                        "deleted": row.deleted,
                        "totals": {
                            product: {metric: row.total(product, metric) for metric in METRICS[product]}
                            for product in METRICS
                        },
                    }
                    for row in report.projects
                ],
            }
            self.stdout.write(json.dumps(document, indent=2))
            return
        span = f"{first} to {last} UTC ({days} day{'' if days == 1 else 's'})"
        self.stdout.write(f"Usage of {organization.name} ({organization.slug}), {span}")
        for product, metrics in METRICS.items():
            self.stdout.write(f"\n{PRODUCT_NAMES[product]}")
            for metric in metrics:
                value = _value(product, metric, report.total(product, metric))
                self.stdout.write(f"  {metric_name(product, metric):<18} {value}")
            if product == "accelerate":
                ratio = report.cache_hit_ratio
                self.stdout.write(f"  {'Cache hit ratio':<18} {'—' if ratio is None else f'{ratio:.1%}'}")
        if report.projects:
            self.stdout.write("\nBy project")
            for row in report.projects:
                queries = row.total("accelerate", "queries")
                events = row.total("pulse", "events_captured")
                self.stdout.write(f"  {row.name}: {queries:,} queries, {events:,} events captured")
        else:
            self.stdout.write("\nNo usage in this period.")


def _value(product: str, metric: str, value: int) -> str:
    if (product, metric) in BYTE_METRICS:
        return f"{value:,} bytes ({format_bytes(value)})"
    return f"{value:,}"
