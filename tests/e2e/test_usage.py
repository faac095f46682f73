from __future__ import annotations

import re
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accelerate.services import accelerate_create
from console.audit import Actor
from tests.factories import MembershipFactory, ProjectFactory
from usage.metering import Meter

pytestmark = pytest.mark.django_db(transaction=True)


def test_from_view_usage_switch_range_and_project_read_a_tooltip_and_download_the_csv(
    login_page, live_server, database_url, settings
):
    settings.ACCELERATE_OPEN_ACCESS = True
    membership = MembershipFactory()
    organization = membership.organization
    storefront = ProjectFactory(organization=organization, name="Storefront")
    blog = ProjectFactory(organization=organization, name="Blog")
    accelerate_create(
        project=storefront, actor=Actor.command("test"), connection_string=database_url(), region="eu-west-1"
    )
    meter = Meter("accelerate")
    now = time.time()
    meter.add(
        organization_id=organization.pk, project_id=storefront.pk, at=now, queries=1234, cache_hits_ttl=1000
    )
    meter.add(organization_id=organization.pk, project_id=storefront.pk, at=now - 3 * 86400, queries=500)
    meter.add(organization_id=organization.pk, project_id=blog.pk, at=now, queries=42)
    meter.flush()

    page = login_page(membership.user)
    page.goto(live_server.url + reverse("accelerate:tab", args=[organization.slug, storefront.pk]))
    page.get_by_role("link", name="View usage").click()

    expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"\?project={storefront.pk}&product=accelerate$"))
    expect(page.get_by_text("Project: Storefront")).to_be_visible()
    expect(page.get_by_text("1,234 queries")).to_be_visible()
    # The newest hour's bar: its SVG <title> is the hover tooltip.
    queries_chart = page.locator("#chart-accelerate-queries")
    expect(queries_chart.locator("g.column > title").last).to_have_text(re.compile(r"UTC\nQueries: 1,234$"))
    queries_chart.get_by_text("Show as table").click()
    expect(queries_chart.get_by_role("cell", name="1,234")).to_be_visible()

    # Range: htmx swaps the content and the address bar keeps a shareable URL.
    page.get_by_role("link", name="Last 7 days").click()
    expect(page).to_have_url(re.compile(r"range=7d"))
    expect(page.get_by_text("Last 7 days (daily)")).to_be_visible()
    expect(page.get_by_text("1,734 queries")).to_be_visible()
    titles = page.locator("#chart-accelerate-queries g.column > title")
    expect(titles.filter(has_text="Queries: 500")).to_have_count(1)

    # Project: all of them, then another one.
    page.get_by_text("Project: Storefront").click()
    page.get_by_role("link", name="All projects").click()
    expect(page.get_by_text("1,776 queries")).to_be_visible()
    by_project = page.get_by_role("table", name="By project")
    expect(by_project.get_by_role("row")).to_have_count(3)  # header, Blog, Storefront
    by_project.get_by_role("link", name="Blog").click()
    expect(page.get_by_text("Project: Blog")).to_be_visible()
    expect(page.get_by_text("42 queries")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"range=7d&project={blog.pk}&product=accelerate"))

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert re.fullmatch(rf"usage-{organization.slug}-7d-\d{{8}}T\d{{4}}Z\.csv", download.suggested_filename)
    lines = open(download.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    assert lines[0] == "day_start_utc,project_id,project_name,product,metric,value"
    assert lines[1:] == [
        f"{time.strftime('%Y-%m-%d', time.gmtime(now))}T00:00:00Z,{blog.pk},Blog,accelerate,queries,42"
    ]
