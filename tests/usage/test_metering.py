from __future__ import annotations

import datetime as dt
import uuid

import pytest

from usage.metering import Meter
from usage.models import UsageCounter

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC).timestamp()


def test_counts_add_up_per_project_metric_and_hour(organization):
    project = uuid.uuid4()
    meter = Meter("accelerate")
    meter.add(organization_id=organization.pk, project_id=project, at=NOON + 10, queries=1, cache_misses=1)
    meter.add(
        organization_id=organization.pk, project_id=project, at=NOON + 3599, queries=1, cache_hits_ttl=1
    )
    meter.add(organization_id=organization.pk, project_id=project, at=NOON + 3600, queries=1)
    assert meter.flush() == 4
    meter.add(organization_id=organization.pk, project_id=str(project), at=NOON + 20, queries=5)
    meter.flush()
    rows = {(r.metric, r.hour.hour): r.value for r in UsageCounter.objects.filter(project_id=project)}
    assert rows == {
        ("queries", 12): 7,
        ("cache_misses", 12): 1,
        ("cache_hits_ttl", 12): 1,
        ("queries", 13): 1,
    }
    assert meter.flush() == 0  # nothing pending


def test_unknown_metrics_are_refused(organization):
    with pytest.raises(ValueError, match="no metric"):
        Meter("pulse").add(organization_id=organization.pk, project_id=uuid.uuid4(), queries=1)


def test_counts_of_a_deleted_organization_are_dropped_not_retried(organization):
    meter = Meter("pulse")
    meter.add(organization_id=organization.pk, project_id=uuid.uuid4(), events_captured=3)
    organization.delete()
    meter.flush()
    assert not UsageCounter.objects.exists()
    assert meter.take() == {}
