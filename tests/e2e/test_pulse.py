from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from projects.services import api_key_authenticate
from pulse.services import pulse_slot_name
from tests.factories import MembershipFactory, ProjectFactory
from tests.pulse.conftest import run_sql, slot_names, url_from_conninfo
from userdb.connection_strings import parse

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_the_database_enable_pulse_watch_the_lag_and_disable_it(
    login_page, live_server, settings, source_database
):
    settings.PULSE_OPEN_ACCESS = True
    source_url = url_from_conninfo(source_database)
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    slot = pulse_slot_name(project)
    page = login_page(membership.user)
    page.goto(
        live_server.url
        + reverse(
            "pulse:tab", kwargs={"organization_slug": membership.organization.slug, "project_id": project.pk}
        )
    )

    expect(page.get_by_role("heading", name="Prepare your database")).to_be_visible()
    enable = page.get_by_role("button", name="Enable Pulse")
    expect(enable).to_be_disabled()
    page.get_by_label("Database connection string").fill(source_url)
    page.get_by_role("button", name="Check database").click()
    # Shown redacted: the password of the stand-in database never comes back.
    expect(
        page.get_by_role("heading", name=f"Ready for Pulse: {parse(source_url).redacted()}")
    ).to_be_visible()
    expect(page.locator('[data-check="wal_level"]')).to_contain_text("Pass")
    expect(page.locator('[data-check="replica_identity"]')).to_contain_text("Warning")
    expect(page.locator("#fix-replica_identity")).to_have_text("ALTER TABLE orders REPLICA IDENTITY FULL;")
    expect(enable).to_be_enabled()

    page.get_by_label("Region").select_option("eu-central-1")
    enable.click()
    expect(page.get_by_text("Pulse is enabled for this project.")).to_be_visible()
    expect(page.locator("#pulse-status")).to_contain_text(slot)
    expect(page.locator("#pulse-lag")).to_contain_text("B of WAL not yet captured")
    assert slot_names(source_database) == [slot]
    # The status refreshes itself: WAL written now shows up as lag without reloading.
    run_sql(source_url, "INSERT INTO orders SELECT generate_series(1, 20000)")
    # (20,000 rows and their index entries are ~2.5 MB of WAL; before them the lag is bytes or KB —
    # "KB" used to match the lag other databases on the same server had written before the insert.)
    expect(page.locator("#pulse-lag")).to_contain_text("MB", timeout=15_000)

    # Generate API key: every snippet carries it, each with its Copy button; shown once.
    snippets = page.locator("#pulse-snippets")
    code_blocks = snippets.locator("pre, .secret code")
    expect(code_blocks).to_have_count(4)
    page.get_by_role("button", name="Generate API key").click()
    expect(snippets.get_by_text("created and filled in below")).to_be_visible()
    key = snippets.locator("pre").first.inner_text().split("=", 1)[1]
    assert api_key_authenticate(key) is not None
    expect(snippets.locator("pre").nth(1)).to_contain_text(f"Bearer {key}")
    expect(snippets.locator("button[data-copy]")).to_have_count(4)
    page.reload()
    assert key not in page.content()

    page.get_by_role("link", name="Settings", exact=True).last.click()
    page.get_by_role("link", name="Disable Pulse").click()
    dialog = page.get_by_role("dialog", name="Disable Pulse")
    expect(dialog).to_contain_text(f"SELECT pg_drop_replication_slot('{slot}');")
    dialog.get_by_role("button", name="Disable Pulse").click()
    expect(page.get_by_text("were dropped from your database")).to_be_visible()
    expect(page.get_by_role("heading", name="Prepare your database")).to_be_visible()
    assert slot_names(source_database) == []
