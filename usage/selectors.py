"""Reads of the metering tables for the Usage section, the Overview and ``manage.py usage``.

Every bucket is a UTC hour or a UTC day: the 24-hour view reads the hourly rows, longer
ranges the daily rows that every meter flush keeps (``usage/metering.py``). A day in a
person's own time zone would need hourly rows for every range, which the page could not
read fast enough for a year of history, so the page says "UTC" wherever it shows a time.

Every function takes the organization and filters on it first: another organization's
usage is never read.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import Q, Sum
from django.utils import timezone

from console.models import Organization
from usage.metering import METRICS, PRODUCTS
from usage.models import UsageCounter, UsageDailyCounter

Granularity = Literal["hour", "day"]
MetricKey = tuple[str, str]  # (product, metric)

PRODUCT_NAMES = {"accelerate": "Accelerate", "pulse": "Pulse"}
METRIC_NAMES: dict[MetricKey, str] = {
    ("accelerate", "queries"): "Queries",
    ("accelerate", "cache_hits_ttl"): "Cache hits (TTL)",
    ("accelerate", "cache_hits_swr"): "Cache hits (SWR)",
    ("accelerate", "cache_misses"): "Cache misses",
    ("accelerate", "egress_bytes"): "Egress",
    ("accelerate", "errors"): "Errors",
    ("pulse", "events_captured"): "Events captured",
    ("pulse", "events_delivered"): "Events delivered",
}
BYTE_METRICS = {("accelerate", "egress_bytes")}
ALL_METRICS: list[MetricKey] = [(product, metric) for product in PRODUCTS for metric in METRICS[product]]


@dataclass(frozen=True)
class UsageRange:
    key: str  # what ``?range=`` says: "24h", "7d", "30d"
    label: str  # "Last 24 hours"
    granularity: Granularity
    buckets: int

    @classmethod
    def days(cls, count: int) -> UsageRange:
        """The last ``count`` UTC days, today included (``manage.py usage --days N``)."""
        if count < 1:
            raise ValueError("A usage range has at least one day.")
        return cls(key=f"{count}d", label=f"Last {count} days", granularity="day", buckets=count)

    def bucket_starts(self, now: dt.datetime) -> list[dt.datetime]:
        """The start (UTC) of each hour or day in the range, oldest first; the last one holds ``now``."""
        now = now.astimezone(dt.UTC)
        if self.granularity == "hour":
            last = now.replace(minute=0, second=0, microsecond=0)
            step = dt.timedelta(hours=1)
        else:
            last = now.replace(hour=0, minute=0, second=0, microsecond=0)
            step = dt.timedelta(days=1)
        return [last - step * n for n in reversed(range(self.buckets))]

    @property
    def step(self) -> dt.timedelta:
        return dt.timedelta(hours=1) if self.granularity == "hour" else dt.timedelta(days=1)


RANGES = {
    "24h": UsageRange(key="24h", label="Last 24 hours", granularity="hour", buckets=24),
    "7d": UsageRange.days(7),
    "30d": UsageRange.days(30),
}
DEFAULT_RANGE = RANGES["24h"]


@dataclass
class ProjectUsage:
    """One row of the per-project table: a project of the organization, or all deleted ones together."""

    project_id: uuid.UUID | None  # None: the usage of projects deleted since
    name: str
    totals: dict[MetricKey, int] = field(default_factory=dict)

    def total(self, product: str, metric: str) -> int:
        return self.totals.get((product, metric), 0)

    @property
    def deleted(self) -> bool:
        return self.project_id is None


@dataclass
class UsageReport:
    """An organization's usage over a range, optionally one project and/or one product."""

    range: UsageRange
    buckets: list[dt.datetime]
    series: dict[MetricKey, list[int]]  # one value per bucket, for every metric shown
    projects: list[ProjectUsage]  # by name, deleted projects last; only rows with usage

    @property
    def start(self) -> dt.datetime:
        return self.buckets[0]

    @property
    def end(self) -> dt.datetime:
        """Exclusive: the end of the last (current) bucket."""
        return self.buckets[-1] + self.range.step

    def total(self, product: str, metric: str) -> int:
        return sum(self.series.get((product, metric), ()))

    def product_is_empty(self, product: str) -> bool:
        return not any(self.total(product, metric) for metric in METRICS[product])

    @property
    def is_empty(self) -> bool:
        return all(not any(values) for values in self.series.values())

    @property
    def cache_hits(self) -> int:
        return self.total("accelerate", "cache_hits_ttl") + self.total("accelerate", "cache_hits_swr")

    @property
    def cache_hit_ratio(self) -> float | None:
        """Hits over hits and misses (queries without a cache strategy are neither), or None without any."""
        lookups = self.cache_hits + self.total("accelerate", "cache_misses")
        return self.cache_hits / lookups if lookups else None


def _rows(
    *,
    organization: Organization,
    usage_range: UsageRange,
    buckets: list[dt.datetime],
    project_id: uuid.UUID | None,
    product: str | None,
) -> tuple[type[UsageCounter] | type[UsageDailyCounter], str, Q]:
    """The table, its bucket column and the filter for a range (organization first, always)."""
    end = buckets[-1] + usage_range.step
    if usage_range.granularity == "hour":
        table: type[UsageCounter] | type[UsageDailyCounter] = UsageCounter
        column = "hour"
        where = Q(organization=organization, hour__gte=buckets[0], hour__lt=end)
    else:
        table, column = UsageDailyCounter, "day"
        where = Q(organization=organization, day__gte=buckets[0].date(), day__lt=end.date())
    if project_id is not None:
        where &= Q(project_id=project_id)
    if product is not None:
        where &= Q(product=product)
    return table, column, where


def _bucket_start(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)


def usage_report(
    *,
    organization: Organization,
    usage_range: UsageRange,
    project_names: dict[uuid.UUID, str],
    project_id: uuid.UUID | None = None,
    product: str | None = None,
    now: dt.datetime | None = None,
) -> UsageReport:
    """The organization's usage per bucket and per project over the range, in two queries
    (one GROUP BY bucket, one GROUP BY project) whatever the number of projects or rows.

    ``project_names`` are the organization's current projects (the caller reads them through
    ``organization.projects``); usage of any other project id of this organization belongs to
    a project deleted since and is summed into one "Deleted projects" row.
    """
    buckets = usage_range.bucket_starts(now or timezone.now())
    table, column, where = _rows(
        organization=organization,
        usage_range=usage_range,
        buckets=buckets,
        project_id=project_id,
        product=product,
    )
    shown = [key for key in ALL_METRICS if product is None or key[0] == product]
    series = {key: [0] * len(buckets) for key in shown}
    position = {bucket: index for index, bucket in enumerate(buckets)}
    by_bucket = (
        table.objects.filter(where)
        .values_list(column, "product", "metric")
        .annotate(total=Sum("value"))
        .order_by()
    )
    for bucket, row_product, metric, total in by_bucket:
        index = position.get(_bucket_start(bucket))
        if index is not None and (row_product, metric) in series:
            series[(row_product, metric)][index] += total

    projects: dict[uuid.UUID | None, ProjectUsage] = {}
    by_project = (
        table.objects.filter(where)
        .values_list("project_id", "product", "metric")
        .annotate(total=Sum("value"))
        .order_by()
    )
    for row_project, row_product, metric, total in by_project:
        key: uuid.UUID | None = row_project if row_project in project_names else None
        if key not in projects:
            projects[key] = ProjectUsage(
                project_id=key, name=project_names[key] if key is not None else "Deleted projects"
            )
        totals = projects[key].totals
        totals[(row_product, metric)] = totals.get((row_product, metric), 0) + total
    rows = sorted(projects.values(), key=lambda row: (row.deleted, row.name.casefold(), str(row.project_id)))
    return UsageReport(range=usage_range, buckets=buckets, series=series, projects=rows)


@dataclass(frozen=True)
class UsageExportRow:
    start: dt.datetime
    project_id: uuid.UUID
    project_name: str  # "" for a deleted project
    product: str
    metric: str
    value: int


def usage_export_rows(
    *,
    organization: Organization,
    usage_range: UsageRange,
    project_names: dict[uuid.UUID, str],
    project_id: uuid.UUID | None = None,
    product: str | None = None,
    now: dt.datetime | None = None,
) -> list[UsageExportRow]:
    """Every non-zero count in the range per bucket, project, product and metric (the CSV
    export), oldest bucket first; one query."""
    buckets = usage_range.bucket_starts(now or timezone.now())
    table, column, where = _rows(
        organization=organization,
        usage_range=usage_range,
        buckets=buckets,
        project_id=project_id,
        product=product,
    )
    rows = (
        table.objects.filter(where)
        .exclude(value=0)
        .values_list(column, "project_id", "product", "metric")
        .annotate(total=Sum("value"))
        .order_by(column, "project_id", "product", "metric")
    )
    order = {key: index for index, key in enumerate(ALL_METRICS)}
    result = [
        UsageExportRow(
            start=_bucket_start(bucket),
            project_id=row_project,
            project_name=project_names.get(row_project, ""),
            product=row_product,
            metric=metric,
            value=total,
        )
        for bucket, row_project, row_product, metric, total in rows
    ]
    result.sort(
        key=lambda row: (
            row.start,
            row.project_name == "",
            row.project_name.casefold(),
            str(row.project_id),
            order.get((row.product, row.metric), len(order)),
        )
    )
    return result


@dataclass(frozen=True)
class RecentUsage:
    queries: int = 0
    events: int = 0


def usage_last_24_hours_by_project(
    *, organization: Organization, project_ids: list[uuid.UUID], now: dt.datetime | None = None
) -> dict[uuid.UUID, RecentUsage]:
    """Accelerate queries and Pulse events captured per project over the last 24 hourly
    buckets (the Overview's numbers), in one query; projects without usage are absent."""
    buckets = DEFAULT_RANGE.bucket_starts(now or timezone.now())
    rows = (
        UsageCounter.objects.filter(
            Q(product="accelerate", metric="queries") | Q(product="pulse", metric="events_captured"),
            organization=organization,
            project_id__in=project_ids,
            hour__gte=buckets[0],
            hour__lt=buckets[-1] + DEFAULT_RANGE.step,
        )
        .values_list("project_id")
        .annotate(
            queries=Sum("value", filter=Q(metric="queries"), default=0),
            events=Sum("value", filter=Q(metric="events_captured"), default=0),
        )
        .order_by()
    )
    return {project: RecentUsage(queries=queries, events=events) for project, queries, events in rows}


def metric_name(product: str, metric: str) -> str:
    return METRIC_NAMES.get((product, metric), metric.replace("_", " ").capitalize())


def usage_totals(report: UsageReport) -> dict[str, dict[str, int]]:
    """The report's totals as {product: {metric: total}} (for ``manage.py usage --json``)."""
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    for product, metric in report.series:
        totals[product][metric] = report.total(product, metric)
    return dict(totals)


def usage_project_names(*, organization: Organization) -> dict[uuid.UUID, str]:
    """The organization's current projects by id, for naming rows and filtering (read through the
    reverse relation: usage sits below the projects app and does not import it)."""
    return dict(organization.projects.values_list("id", "name"))
