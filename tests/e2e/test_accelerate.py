from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_configure_accelerate_see_the_instructions_then_disable_and_enable(
    login_page, live_server, database_url
):
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    page = login_page(membership.user)
    page.goto(live_server.url + reverse("accelerate:tab", args=[project.organization.slug, project.pk]))

    expect(page.get_by_role("heading", name="Configure Accelerate")).to_be_visible()
    field = page.get_by_label("Database connection string")
    # A host that names its region gets that region preselected, with the reason.
    field.fill("postgresql://app:secret-pw@mydb.abc123.eu-west-2.rds.amazonaws.com:5432/app")
    expect(page.get_by_label("Region")).to_have_value("eu-west-2")
    expect(page.get_by_text("this AWS RDS database is in Europe (London)")).to_be_visible()

    # The real database: the test server itself.
    field.fill(database_url(password="e2e-secret-pw"))
    page.get_by_label("Region").select_option("eu-central-1")
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Connection limit").fill("25")
    page.get_by_role("button", name="Configure Accelerate").click()

    host = live_server.url.split("://", 1)[1]
    expect(page.locator("#accelerate-url")).to_have_text(f"prisma://{host}/?api_key=__API_KEY__")
    expect(page.get_by_text("Europe (Frankfurt)")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    assert "e2e-secret-pw" not in page.content()

    page.get_by_role("link", name="Disable Accelerate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("P6010")
    dialog.get_by_role("button", name="Disable Accelerate").click()
    expect(page.get_by_role("button", name="Enable Accelerate")).to_be_visible()
    expect(page.get_by_text("Disabled", exact=True)).to_be_visible()

    page.get_by_role("button", name="Enable Accelerate").click()
    expect(page.get_by_role("link", name="Disable Accelerate")).to_be_visible()
    expect(page.get_by_text("Enabled", exact=True)).to_be_visible()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Connection limit")).to_have_value("25")


def test_a_key_created_moments_ago_can_be_filled_into_the_connection_string(
    login_page, live_server, database_url
):
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    page = login_page(membership.user)
    slug = project.organization.slug
    page.goto(live_server.url + reverse("accelerate:tab", args=[slug, project.pk]))
    page.get_by_label("Database connection string").fill(database_url())
    page.get_by_label("Region").select_option("eu-central-1")
    page.get_by_role("button", name="Configure Accelerate").click()
    expect(page.locator("#accelerate-url")).to_contain_text("__API_KEY__")
    expect(page.get_by_role("button", name="Fill it in")).to_be_hidden()  # no key created in this tab yet

    page.goto(live_server.url + reverse("projects:api_keys", args=[slug, project.pk]))
    page.get_by_role("link", name="New API Key").click()
    page.get_by_role("dialog").get_by_label("Name").fill("storefront")
    page.get_by_role("button", name="Create API Key").click()
    key = page.locator("#new-api-key").inner_text()
    # The console remembers it in this tab only (sessionStorage), never on the server.
    page.wait_for_function("Object.keys(sessionStorage).some((k) => k.startsWith('dpc:new-api-key:'))")
    page.get_by_role("button", name="I've stored it securely").click()

    page.goto(live_server.url + reverse("accelerate:tab", args=[slug, project.pk]))
    page.get_by_role("button", name="Fill it in").click()
    host = live_server.url.split("://", 1)[1]
    expect(page.locator("#accelerate-url")).to_have_text(f"prisma://{host}/?api_key={key}")
