"""Usage metering: products count in memory and flush in batches (DESIGN.md section 9).

``Meter.add`` is cheap enough for a hot path (a dictionary update under a lock); ``flush``
writes every pending count with one statement that adds to the hour's row and to the UTC
day's row (``UsageDailyCounter``, what the 7- and 30-day views read). A process that
dies loses at most what it counted since its last flush (the callers flush every couple
of seconds and on shutdown). Write usage through a ``Meter`` only: a row inserted into
``UsageCounter`` by hand is missing from the daily rows. ``usage_prune`` applies retention.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from usage.models import UsageCounter, UsageDailyCounter

PRODUCTS = ("accelerate", "pulse")
METRICS = {
    "accelerate": ("queries", "cache_hits_ttl", "cache_hits_swr", "cache_misses", "egress_bytes", "errors"),
    "pulse": ("events_captured", "events_delivered"),
}

Key = tuple[int, uuid.UUID, str, str, dt.datetime]


def hour_of(timestamp: float) -> dt.datetime:
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


class Meter:
    def __init__(self, product: str) -> None:
        if product not in PRODUCTS:
            raise ValueError(f"unknown product {product!r}")
        self.product = product
        self._pending: defaultdict[Key, int] = defaultdict(int)
        self._lock = threading.Lock()

    def add(
        self, *, organization_id: int, project_id: uuid.UUID | str, at: float | None = None, **counts: int
    ) -> None:
        """Count, e.g. ``meter.add(organization_id=1, project_id=p, queries=1, cache_misses=1)``."""
        hour = hour_of(time.time() if at is None else at)
        project = project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(project_id)
        allowed = METRICS[self.product]
        with self._lock:
            for metric, value in counts.items():
                if metric not in allowed:
                    raise ValueError(f"{self.product} has no metric {metric!r}")
                if value:
                    self._pending[(organization_id, project, self.product, metric, hour)] += value

    def take(self) -> dict[Key, int]:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(int)
        return dict(pending)

    def flush(self) -> int:
        """Write what was counted; returns how many hourly rows it touched. Counts of an
        organization deleted meanwhile are dropped; on any other failure they are kept for
        the next flush."""
        pending = self.take()
        if not pending:
            return 0
        try:
            usage_add(pending)
        except Exception:
            with self._lock:
                for key, value in pending.items():
                    self._pending[key] += value
            raise
        return len(pending)


@transaction.atomic
def usage_add(counts: dict[Key, int]) -> None:
    """Add the counts to their hourly rows and to their UTC days' rows, in one statement
    (rows are created as needed), so the two tables never disagree. Rows are written in key
    order, which keeps concurrent flushes from deadlocking on each other's rows."""
    keys = sorted(counts)
    hourly = UsageCounter._meta.db_table
    daily = UsageDailyCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH input AS (
                SELECT u.organization_id, u.project_id, u.product, u.metric, u.hour, u.value
                FROM unnest(
                    %s::bigint[], %s::uuid[], %s::text[], %s::text[], %s::timestamptz[], %s::bigint[]
                ) AS u(organization_id, project_id, product, metric, hour, value)
                JOIN console_organization o ON o.id = u.organization_id
            ),
            hours AS (
                INSERT INTO {hourly} (organization_id, project_id, product, metric, hour, value)
                SELECT organization_id, project_id, product, metric, hour, value FROM input
                ORDER BY project_id, product, metric, hour
                ON CONFLICT (project_id, product, metric, hour)
                DO UPDATE SET value = {hourly}.value + EXCLUDED.value
            )
            INSERT INTO {daily} (organization_id, project_id, product, metric, day, value)
            SELECT organization_id, project_id, product, metric, (hour AT TIME ZONE 'UTC')::date, sum(value)
            FROM input
            GROUP BY 1, 2, 3, 4, 5
            ORDER BY project_id, product, metric, 5
            ON CONFLICT (project_id, product, metric, day)
            DO UPDATE SET value = {daily}.value + EXCLUDED.value
            """,  # noqa: S608 - the table names are ours, every value is a parameter
            [
                [k[0] for k in keys],
                [k[1] for k in keys],
                [k[2] for k in keys],
                [k[3] for k in keys],
                [k[4] for k in keys],
                [counts[k] for k in keys],
            ],
        )


@dataclass(frozen=True)
class PruneResult:
    hourly_deleted: int
    daily_deleted: int
    hourly_before: dt.datetime
    daily_before: dt.date


@transaction.atomic
def usage_prune(*, now: dt.datetime | None = None) -> PruneResult:
    """Keep the hourly rows of the last ``USAGE_HOURLY_RETENTION_DAYS`` UTC days and the daily
    rows of the last ``USAGE_RETENTION_DAYS`` (today counts as one; the same days as
    ``manage.py usage --days N``), delete older ones: an hour's count lives on in its day's row,
    which every flush keeps. Only whole UTC days go. Safe to run at any time, repeatedly."""
    today = (now or timezone.now()).astimezone(dt.UTC).date()
    daily_before = today - dt.timedelta(days=settings.USAGE_RETENTION_DAYS - 1)
    hourly_before = dt.datetime.combine(
        today - dt.timedelta(days=settings.USAGE_HOURLY_RETENTION_DAYS - 1), dt.time(), tzinfo=dt.UTC
    )
    hourly_deleted, _ = UsageCounter.objects.filter(hour__lt=hourly_before).delete()
    daily_deleted, _ = UsageDailyCounter.objects.filter(day__lt=daily_before).delete()
    return PruneResult(
        hourly_deleted=hourly_deleted,
        daily_deleted=daily_deleted,
        hourly_before=hourly_before,
        daily_before=daily_before,
    )
