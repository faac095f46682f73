"""The Usage page, its CSV export and the Overview's per-project numbers, through the test client."""

from __future__ import annotations

import csv
import io
import re
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from console.models import Role
from tests.factories import OrganizationFactory, ProjectFactory
from usage.metering import Meter

pytestmark = pytest.mark.django_db


def record(product: str, project, project_id=None, *, at: float | None = None, **counts: int) -> None:
    meter = Meter(product)
    meter.add(
        organization_id=project.organization_id,
        project_id=project_id or project.pk,
        at=time.time() if at is None else at,
        **counts,
    )
    meter.flush()


def usage_url(organization, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("usage", args=[organization.slug]) + (f"?{query}" if query else "")


def export_url(organization, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("usage_export", args=[organization.slug]) + (f"?{query}" if query else "")


@pytest.fixture
def viewer_client(organization, member_factory) -> Client:
    client = Client()
    client.force_login(member_factory(organization, Role.VIEWER).user)
    return client


def test_a_viewer_reads_totals_charts_and_exact_values_on_a_read_only_page(
    viewer_client, organization, project
):
    record("accelerate", project, queries=1234, cache_hits_ttl=900, cache_misses=100, egress_bytes=3_400_000)
    record("pulse", project, events_captured=5, events_delivered=10)

    response = viewer_client.get(usage_url(organization))

    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>Usage</h1>" in page and "Last 24 hours (hourly)" in page and "All times are UTC" in page
    assert "1.2k" in page and "1,234 queries" in page  # the total, short and exact
    assert "90.0%" in page  # cache hit ratio: 900 of 1,000 cached lookups
    assert "3.4 MB" in page and "3,400,000 bytes" in page
    assert "Queries: 1,234" in page  # a bar's tooltip (SVG <title>)
    assert "Egress: 3.4 MB (3,400,000 bytes)" in page
    assert "Show as table" in page and 'role="img"' in page
    assert "<form" not in page.split('id="main"')[1]  # nothing to change here
    assert 'aria-current="page">Usage</a>' in page  # the sidebar's entry


def test_a_tile_says_a_number_once_and_adds_the_exact_one_only_when_it_differs(
    owner_client, organization, project
):
    record("accelerate", project, queries=1234, cache_misses=7)
    record("pulse", project, events_captured=5)
    page = owner_client.get(usage_url(organization)).content.decode()
    tiles = dict(re.findall(r"<div><dt>([^<]+)</dt><dd>(.*?)</dd></div>", page))
    assert tiles["Events captured"] == '<span class="stat-value">5</span>'
    assert tiles["Cache misses"] == '<span class="stat-value">7</span>'
    assert (
        tiles["Queries"] == '<span class="stat-value">1.2k</span> <small class="muted">1,234 queries</small>'
    )


def test_range_project_and_product_are_query_parameters_and_the_links_keep_the_others(
    owner_client, organization, project
):
    other = ProjectFactory(organization=organization, name="Other project")
    record("accelerate", project, queries=7)
    record("accelerate", other, queries=1000)
    record("pulse", other, events_captured=3)

    page = owner_client.get(usage_url(organization, range="7d", project=project.pk)).content.decode()

    assert "Last 7 days (daily)" in page and f"project {project.name}" in page
    assert "7 queries" in page and "1,000" not in page
    assert f'href="?range=30d&amp;project={project.pk}"' not in page  # links are absolute paths
    base = reverse("usage", args=[organization.slug])
    assert f'href="{base}?range=30d&amp;project={project.pk}"' in page
    assert f'href="{base}?project={project.pk}"' in page  # the default range is left out
    assert f'href="{base}?range=7d&amp;project={project.pk}&amp;product=pulse"' in page
    assert f'href="{base}?range=7d"' in page  # "All projects"
    pulse_only = owner_client.get(usage_url(organization, product="pulse")).content.decode()
    assert "Events captured" in pulse_only and "Cache hit ratio" not in pulse_only
    empty_pulse = owner_client.get(
        usage_url(organization, product="pulse", project=project.pk)
    ).content.decode()
    assert f"Nothing was counted for {project.name} (Pulse) in the last 24 hours" in empty_pulse


def test_unknown_range_and_product_fall_back_to_the_defaults(owner_client, organization):
    page = owner_client.get(usage_url(organization, range="1y", product="mysql")).content.decode()
    assert "Last 24 hours (hourly)" in page and "All products" in page


@pytest.mark.parametrize("make_id", [lambda: "not-a-uuid", lambda: uuid.uuid4(), lambda: None])
def test_a_project_that_is_not_one_of_the_organizations_is_not_found(owner_client, organization, make_id):
    project_id = make_id() or ProjectFactory(organization=OrganizationFactory()).pk  # None: another org's
    assert owner_client.get(usage_url(organization, project=project_id)).status_code == 404
    assert owner_client.get(export_url(organization, project=project_id)).status_code == 404


def test_another_organizations_usage_is_not_shown(owner_client, organization, project):
    other = ProjectFactory(organization=OrganizationFactory(), name="Their project")
    record("accelerate", other, queries=999_999)
    page = owner_client.get(usage_url(organization)).content.decode()
    assert "No usage in this period" in page
    assert "999" not in page and "Their project" not in page
    assert owner_client.get(export_url(organization)).content.decode().count("\n") == 1  # the header only


def test_outsiders_get_not_found(outsider_client, organization):
    assert outsider_client.get(usage_url(organization)).status_code == 404
    assert outsider_client.get(export_url(organization)).status_code == 404


def test_the_empty_state_says_so_without_charts(owner_client, organization, project):
    page = owner_client.get(usage_url(organization, range="30d")).content.decode()
    assert "No usage in this period" in page and "in the last 30 days" in page
    assert '<svg class="chart-svg"' not in page


def test_a_quiet_product_says_so_beside_the_busy_one(owner_client, organization, project):
    record("accelerate", project, queries=3)
    page = owner_client.get(usage_url(organization)).content.decode()
    assert "No Pulse usage in this period." in page
    assert "None in this period" in page  # the Errors chart has nothing to draw


def test_deleted_projects_count_in_the_totals_as_one_row(owner_client, organization, project):
    record("accelerate", project, queries=1)
    record("accelerate", project, uuid.uuid4(), queries=20)
    page = owner_client.get(usage_url(organization)).content.decode()
    assert "21 queries" in page
    assert "Deleted projects" in page


def test_htmx_gets_only_the_part_it_swaps(owner_client, organization, project):
    record("accelerate", project, queries=3)
    response = owner_client.get(usage_url(organization, range="7d"), headers={"HX-Request": "true"})
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="usage"') and "<html" not in fragment
    assert 'hx-push-url="true"' in fragment and "Last 7 days (daily)" in fragment


def test_the_page_makes_the_same_number_of_queries_for_1_or_20_projects(owner_client, organization):
    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(usage_url(organization, range="30d")).status_code == 200
        return len(queries)

    record("accelerate", ProjectFactory(organization=organization), queries=1)
    few = count()
    for _ in range(19):
        project = ProjectFactory(organization=organization)
        record("accelerate", project, queries=1)
        record("pulse", project, events_captured=1)
    assert count() == few


def test_csv_export_is_the_selected_range_per_bucket_project_and_metric(owner_client, organization, project):
    project.name = "=HYPERLINK(1)"
    project.save()
    now = time.time()
    record("accelerate", project, at=now, queries=2, egress_bytes=512)
    gone = uuid.uuid4()
    record("pulse", project, gone, at=now, events_captured=4)
    other = ProjectFactory(organization=OrganizationFactory())
    record("accelerate", other, at=now, queries=77)

    response = owner_client.get(export_url(organization, range="7d"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="usage-{organization.slug}-7d-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    day = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(now))
    assert rows[0] == ["day_start_utc", "project_id", "project_name", "product", "metric", "value"]
    assert sorted(rows[1:]) == sorted(
        [
            [day, str(project.pk), "'=HYPERLINK(1)", "accelerate", "queries", "2"],
            [day, str(project.pk), "'=HYPERLINK(1)", "accelerate", "egress_bytes", "512"],
            [day, str(gone), "(deleted project)", "pulse", "events_captured", "4"],
        ]
    )
    only_pulse = owner_client.get(export_url(organization, product="pulse")).content.decode()
    assert "events_captured" in only_pulse and "queries" not in only_pulse
    assert only_pulse.startswith("hour_start_utc,")


def test_the_download_link_carries_the_filters(owner_client, organization, project):
    page = owner_client.get(usage_url(organization, range="30d", product="accelerate")).content.decode()
    export = reverse("usage_export", args=[organization.slug])
    assert f'href="{export}?range=30d&amp;product=accelerate" download' in page


def test_the_overview_shows_each_projects_last_24_hours_in_one_query_for_the_page(
    owner_client, organization, project
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    record("accelerate", project, queries=1500)
    record("pulse", project, events_captured=12, events_delivered=40)
    url = reverse("organization_overview", args=[organization.slug])
    with CaptureQueriesContext(connection) as few:
        page = owner_client.get(url).content.decode()
    assert "1.5k" in page and 'title="1,500 Accelerate queries in the last 24 hours"' in page
    assert ">12</a>" in page
    assert f"{reverse('usage', args=[organization.slug])}?project={project.pk}&amp;product=accelerate" in page
    for _ in range(10):
        record("accelerate", ProjectFactory(organization=organization), queries=1)
    with CaptureQueriesContext(connection) as many:
        owner_client.get(url)
    assert len(many) == len(few)
