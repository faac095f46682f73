"""The usage reads (usage/selectors.py) against rows written by the meters, and retention."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.factories import OrganizationFactory, ProjectFactory
from usage.metering import Meter, usage_prune
from usage.models import UsageCounter, UsageDailyCounter
from usage.selectors import (
    RANGES,
    UsageRange,
    usage_export_rows,
    usage_last_24_hours_by_project,
    usage_report,
)

pytestmark = pytest.mark.django_db

# A Thursday afternoon, UTC.
NOW = dt.datetime(2026, 11, 26, 15, 20, tzinfo=dt.UTC)


def at(**delta: float) -> float:
    return (NOW - dt.timedelta(**delta)).timestamp()


def utc(*args: int) -> float:
    return dt.datetime(*args, tzinfo=dt.UTC).timestamp()


def record(product: str, organization, project_id, moment: float, **counts: int) -> None:
    meter = Meter(product)
    meter.add(organization_id=organization.pk, project_id=project_id, at=moment, **counts)
    meter.flush()


def names(*projects) -> dict[uuid.UUID, str]:
    return {project.pk: project.name for project in projects}


def test_hourly_series_and_totals_add_up_the_metered_counts(organization, project):
    record("accelerate", organization, project.pk, at(minutes=5), queries=3, cache_hits_ttl=2, cache_misses=1)
    record("accelerate", organization, project.pk, at(minutes=10), queries=4, cache_hits_swr=1)
    record("accelerate", organization, project.pk, at(hours=5), queries=10, egress_bytes=2048, errors=1)
    record("pulse", organization, project.pk, at(hours=23), events_captured=7, events_delivered=14)

    report = usage_report(
        organization=organization, usage_range=RANGES["24h"], project_names=names(project), now=NOW
    )

    assert len(report.buckets) == 24
    assert report.buckets[-1] == dt.datetime(2026, 11, 26, 15, tzinfo=dt.UTC)
    assert report.buckets[0] == dt.datetime(2026, 11, 25, 16, tzinfo=dt.UTC)
    queries = report.series[("accelerate", "queries")]
    assert queries[-1] == 7 and queries[-6] == 10 and sum(queries) == 17
    assert report.series[("pulse", "events_captured")][0] == 7
    assert report.total("accelerate", "egress_bytes") == 2048
    assert report.total("accelerate", "errors") == 1
    assert report.total("pulse", "events_delivered") == 14
    assert report.cache_hits == 3
    assert report.cache_hit_ratio == pytest.approx(3 / 4)
    [row] = report.projects
    assert row.name == project.name and row.total("accelerate", "queries") == 17


def test_the_24_hour_view_starts_at_the_top_of_the_hour_23_hours_ago(organization, project):
    record(
        "accelerate", organization, project.pk, utc(2026, 11, 25, 15, 59, 59), queries=100
    )  # 24th hour back
    record("accelerate", organization, project.pk, utc(2026, 11, 25, 16, 0, 0), queries=1)
    report = usage_report(
        organization=organization, usage_range=RANGES["24h"], project_names=names(project), now=NOW
    )
    assert report.total("accelerate", "queries") == 1


def test_days_are_utc_days_split_exactly_at_midnight(organization, project):
    record("accelerate", organization, project.pk, utc(2026, 11, 24, 23, 59, 59), queries=5)
    record("accelerate", organization, project.pk, utc(2026, 11, 25, 0, 0, 0), queries=7)
    record("accelerate", organization, project.pk, utc(2026, 11, 26, 15, 0), queries=1)  # today, so far

    report = usage_report(
        organization=organization, usage_range=RANGES["7d"], project_names=names(project), now=NOW
    )

    assert [bucket.date() for bucket in report.buckets] == [
        dt.date(2026, 11, 20) + dt.timedelta(days=n) for n in range(7)
    ]
    assert all(bucket.tzinfo == dt.UTC and bucket.hour == 0 for bucket in report.buckets)
    assert report.series[("accelerate", "queries")] == [0, 0, 0, 0, 5, 7, 1]


def test_a_day_long_range_ends_with_today_and_starts_n_minus_1_days_before(organization, project):
    record("accelerate", organization, project.pk, utc(2026, 10, 27, 23, 0), queries=1)  # 31st day back
    record("accelerate", organization, project.pk, utc(2026, 10, 28, 0, 0), queries=2)  # 30th day back
    report = usage_report(
        organization=organization, usage_range=RANGES["30d"], project_names=names(project), now=NOW
    )
    assert report.start == dt.datetime(2026, 10, 28, tzinfo=dt.UTC)
    assert report.end == dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    assert report.total("accelerate", "queries") == 2


def test_a_range_without_usage_is_empty_with_zero_buckets(organization, project):
    record("accelerate", organization, project.pk, at(days=40), queries=9)
    for usage_range in RANGES.values():
        report = usage_report(
            organization=organization, usage_range=usage_range, project_names=names(project), now=NOW
        )
        assert report.is_empty
        assert report.projects == []
        assert report.cache_hit_ratio is None
        assert all(values == [0] * usage_range.buckets for values in report.series.values())


def test_another_organizations_usage_is_never_counted(organization, project):
    other = ProjectFactory(organization=OrganizationFactory())
    record("accelerate", other.organization, other.pk, at(minutes=1), queries=1000)
    record("pulse", other.organization, other.pk, at(minutes=1), events_captured=1000)
    record("accelerate", organization, project.pk, at(minutes=1), queries=1)

    for usage_range in RANGES.values():
        report = usage_report(
            organization=organization,
            usage_range=usage_range,
            project_names=names(project, other),  # even when a caller passes a wrong name map
            now=NOW,
        )
        assert report.total("accelerate", "queries") == 1
        assert report.total("pulse", "events_captured") == 0
        assert [row.project_id for row in report.projects] == [project.pk]
        # Filtering on the other organization's project finds nothing either.
        assert usage_report(
            organization=organization,
            usage_range=usage_range,
            project_names=names(project),
            project_id=other.pk,
            now=NOW,
        ).is_empty
    exported = usage_export_rows(
        organization=organization, usage_range=RANGES["24h"], project_names=names(project, other), now=NOW
    )
    assert [(row.project_id, row.value) for row in exported] == [(project.pk, 1)]
    recent = usage_last_24_hours_by_project(
        organization=organization, project_ids=[project.pk, other.pk], now=NOW
    )
    assert list(recent) == [project.pk]
    # The other organization does see its own usage.
    assert (
        usage_report(
            organization=other.organization, usage_range=RANGES["24h"], project_names=names(other), now=NOW
        ).total("accelerate", "queries")
        == 1000
    )


def test_project_and_product_filters(organization):
    shop, blog = (
        ProjectFactory(organization=organization, name="Shop"),
        ProjectFactory(organization=organization, name="Blog"),
    )
    record("accelerate", organization, shop.pk, at(hours=1), queries=5)
    record("accelerate", organization, blog.pk, at(hours=1), queries=3)
    record("pulse", organization, blog.pk, at(hours=1), events_captured=2)

    only_shop = usage_report(
        organization=organization,
        usage_range=RANGES["7d"],
        project_names=names(shop, blog),
        project_id=shop.pk,
        now=NOW,
    )
    assert only_shop.total("accelerate", "queries") == 5
    only_pulse = usage_report(
        organization=organization,
        usage_range=RANGES["7d"],
        project_names=names(shop, blog),
        product="pulse",
        now=NOW,
    )
    assert set(only_pulse.series) == {("pulse", "events_captured"), ("pulse", "events_delivered")}
    assert only_pulse.total("pulse", "events_captured") == 2
    assert [row.name for row in only_pulse.projects] == ["Blog"]
    everything = usage_report(
        organization=organization, usage_range=RANGES["7d"], project_names=names(shop, blog), now=NOW
    )
    assert [row.name for row in everything.projects] == ["Blog", "Shop"]


def test_usage_of_deleted_projects_stays_in_the_totals_as_one_deleted_row(organization, project):
    gone_one, gone_two = uuid.uuid4(), uuid.uuid4()
    record("accelerate", organization, project.pk, at(hours=2), queries=1)
    record("accelerate", organization, gone_one, at(hours=2), queries=10)
    record("accelerate", organization, gone_two, at(days=3), queries=100)

    report = usage_report(
        organization=organization, usage_range=RANGES["7d"], project_names=names(project), now=NOW
    )

    assert report.total("accelerate", "queries") == 111
    assert [(row.name, row.deleted, row.total("accelerate", "queries")) for row in report.projects] == [
        (project.name, False, 1),
        ("Deleted projects", True, 110),
    ]


def test_export_rows_are_per_bucket_project_and_metric_without_zeros(organization, project):
    record("accelerate", organization, project.pk, utc(2026, 11, 25, 23, 30), queries=2, errors=0)
    record("accelerate", organization, project.pk, utc(2026, 11, 26, 0, 30), queries=3, egress_bytes=10)
    gone = uuid.uuid4()
    record("pulse", organization, gone, utc(2026, 11, 26, 1, 0), events_captured=4)

    rows = usage_export_rows(
        organization=organization, usage_range=RANGES["7d"], project_names=names(project), now=NOW
    )

    assert [(r.start.isoformat(), r.project_name, r.product, r.metric, r.value) for r in rows] == [
        ("2026-11-25T00:00:00+00:00", project.name, "accelerate", "queries", 2),
        ("2026-11-26T00:00:00+00:00", project.name, "accelerate", "queries", 3),
        ("2026-11-26T00:00:00+00:00", project.name, "accelerate", "egress_bytes", 10),
        ("2026-11-26T00:00:00+00:00", "", "pulse", "events_captured", 4),
    ]
    hourly = usage_export_rows(
        organization=organization, usage_range=RANGES["24h"], project_names=names(project), now=NOW
    )
    assert [(r.start.hour, r.metric, r.value) for r in hourly] == [
        (23, "queries", 2),
        (0, "queries", 3),
        (0, "egress_bytes", 10),
        (1, "events_captured", 4),
    ]


def test_overview_numbers_are_queries_and_captured_events_of_the_last_24_hours(
    organization, project, django_assert_num_queries
):
    quiet = ProjectFactory(organization=organization)
    record("accelerate", organization, project.pk, at(minutes=1), queries=4, cache_misses=4)
    record("accelerate", organization, project.pk, at(hours=30), queries=1000)  # too old
    record("pulse", organization, project.pk, at(hours=3), events_captured=6, events_delivered=60)

    with django_assert_num_queries(1):
        recent = usage_last_24_hours_by_project(
            organization=organization, project_ids=[project.pk, quiet.pk], now=NOW
        )

    assert (recent[project.pk].queries, recent[project.pk].events) == (4, 6)
    assert quiet.pk not in recent


def test_every_flush_keeps_the_daily_rows_equal_to_the_sum_of_the_hours(organization, project):
    meter = Meter("accelerate")
    for hour in range(0, 48, 5):
        meter.add(
            organization_id=organization.pk,
            project_id=project.pk,
            at=utc(2026, 11, 24, 0) + hour * 3600,
            queries=hour + 1,
        )
        if hour % 2:
            meter.flush()
    meter.flush()
    hourly: dict[dt.date, int] = {}
    for row in UsageCounter.objects.filter(project_id=project.pk):
        hourly[row.hour.date()] = hourly.get(row.hour.date(), 0) + row.value
    daily = {row.day: row.value for row in UsageDailyCounter.objects.filter(project_id=project.pk)}
    assert (
        daily
        == hourly
        == {dt.date(2026, 11, 24): 1 + 6 + 11 + 16 + 21, dt.date(2026, 11, 25): 26 + 31 + 36 + 41 + 46}
    )


def test_days_range_needs_a_day():
    with pytest.raises(ValueError, match="at least one day"):
        UsageRange.days(0)


def test_prune_drops_hourly_rows_after_30_days_and_daily_rows_after_the_retention(
    organization, project, settings
):
    settings.USAGE_RETENTION_DAYS = 400
    settings.USAGE_HOURLY_RETENTION_DAYS = 30
    # The last 30 days, today included, start on Oct 28; the last 400 on 2025-10-23.
    record("accelerate", organization, project.pk, utc(2026, 10, 27, 23, 59), queries=1)
    record("accelerate", organization, project.pk, utc(2026, 10, 28, 0, 0), queries=2)
    record("accelerate", organization, project.pk, utc(2025, 10, 22, 23), queries=4)
    record("accelerate", organization, project.pk, utc(2025, 10, 23, 0), queries=8)

    result = usage_prune(now=NOW)

    assert result.hourly_before == dt.datetime(2026, 10, 28, tzinfo=dt.UTC)
    assert result.daily_before == dt.date(2025, 10, 23)
    assert (result.hourly_deleted, result.daily_deleted) == (3, 1)
    assert sorted(UsageCounter.objects.values_list("value", flat=True)) == [2]
    assert sorted(UsageDailyCounter.objects.values_list("value", flat=True)) == [1, 2, 8]
    # Longer views still count the days whose hours are gone.
    year = usage_report(
        organization=organization, usage_range=UsageRange.days(400), project_names=names(project), now=NOW
    )
    assert year.total("accelerate", "queries") == 11
    assert usage_prune(now=NOW).hourly_deleted == 0
