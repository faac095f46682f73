"""`manage.py usage` prints the Usage page's totals; `manage.py pruneusage` applies retention."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid

import pytest
from django.core.management import CommandError, call_command

from tests.factories import OrganizationFactory, ProjectFactory
from usage.metering import Meter
from usage.models import UsageCounter, UsageDailyCounter

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def record(product, organization, project_id, *, days_ago: float = 0, **counts) -> None:
    meter = Meter(product)
    meter.add(
        organization_id=organization.pk, project_id=project_id, at=time.time() - days_ago * 86400, **counts
    )
    meter.flush()


def test_usage_prints_the_totals_and_each_project(organization, project):
    record(
        "accelerate",
        organization,
        project.pk,
        queries=1200,
        cache_hits_ttl=3,
        cache_misses=1,
        egress_bytes=3_400_000,
    )
    record("pulse", organization, project.pk, days_ago=6, events_captured=5)
    record("accelerate", organization, uuid.uuid4(), queries=10)
    record("accelerate", organization, project.pk, days_ago=8, queries=99_999)  # outside --days 7
    other = ProjectFactory(organization=OrganizationFactory())
    record("accelerate", other.organization, other.pk, queries=50_000)

    out = run("usage", organization.slug, "--days", "7")

    today = dt.datetime.now(dt.UTC).date()
    assert f"{today - dt.timedelta(days=6)} to {today} UTC (7 days)" in out
    assert "Queries            1,210" in out
    assert "Cache hit ratio    75.0%" in out
    assert "Egress             3,400,000 bytes (3.4 MB)" in out
    assert "Events captured    5" in out
    assert f"{project.name}: 1,200 queries, 5 events captured" in out
    assert "Deleted projects: 10 queries" in out
    assert "50,000" not in out and "99,999" not in out


def test_usage_json_has_the_same_totals(organization, project):
    record("accelerate", organization, project.pk, queries=4, errors=1)
    document = json.loads(run("usage", organization.slug, "--json"))
    assert document["days"] == 30 and document["timeZone"] == "UTC"
    assert document["totals"]["accelerate"]["queries"] == 4
    assert document["totals"]["accelerate"]["errors"] == 1
    assert document["totals"]["pulse"] == {"events_captured": 0, "events_delivered": 0}
    [row] = document["projects"]
    assert row["id"] == str(project.pk) and row["name"] == project.name and not row["deleted"]
    assert row["totals"]["accelerate"]["queries"] == 4


def test_usage_without_usage_says_so(organization):
    assert "No usage in this period." in run("usage", organization.slug, "--days", "1")


@pytest.mark.parametrize("args", [("nope",), ("{slug}", "--days", "0"), ("{slug}", "--days", "401")])
def test_usage_refuses_unknown_organizations_and_bad_ranges(organization, args):
    with pytest.raises(CommandError):
        run("usage", *(arg.format(slug=organization.slug) for arg in args))


def test_pruneusage_deletes_what_is_past_retention(organization, project, settings):
    settings.USAGE_HOURLY_RETENTION_DAYS = 2
    settings.USAGE_RETENTION_DAYS = 5
    record("accelerate", organization, project.pk, queries=1)
    record("accelerate", organization, project.pk, days_ago=3, queries=2)
    record("accelerate", organization, project.pk, days_ago=9, queries=4)

    out = run("pruneusage")

    assert "Deleted 2 hourly rows" in out and "1 daily rows" in out
    assert list(UsageCounter.objects.values_list("value", flat=True)) == [1]
    assert sorted(UsageDailyCounter.objects.values_list("value", flat=True)) == [1, 2]
