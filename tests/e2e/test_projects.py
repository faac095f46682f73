"""The documented project flows, in a browser, with the documented labels."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from console.models import AuditEvent, Role
from projects.models import ApiKey, Project
from projects.services import api_key_authenticate
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme(db):
    """The owner's membership of the organization Acme."""
    return MembershipFactory(organization__name="Acme", organization__slug="acme")


@pytest.fixture
def owner_page(acme, login_page, live_server):
    page = login_page(acme.user)
    page.goto(live_server.url + "/o/acme/")
    return page


def test_create_rename_and_delete_a_project(owner_page):
    page = owner_page
    page.get_by_role("link", name="New project").click()
    dialog = page.get_by_role("dialog", name="New project")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Create project").click()
    expect(dialog.get_by_text("This field is required.")).to_be_visible()
    dialog.get_by_label("Project name").fill("Storefront")
    dialog.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1, name="Storefront")).to_be_visible()
    expect(page.get_by_text("Project “Storefront” created.")).to_be_visible()
    expect(page.get_by_role("heading", name="Get Started")).to_be_visible()

    page.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("link", name="General")).to_have_attribute("aria-current", "page")
    page.get_by_label("Project name").fill("")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("Project name").fill("Storefront EU")
    page.get_by_role("button", name="Update").click()
    expect(page.get_by_role("status").filter(has_text="Project name updated.")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="Storefront EU")).to_be_visible()

    page.get_by_role("link", name="Delete project").click()
    dialog = page.get_by_role("dialog", name="Delete project")
    expect(dialog).to_contain_text("irreversible")
    expect(dialog).to_contain_text("connection strings")
    dialog.get_by_label("Type the project name to confirm").fill("Storefront")
    dialog.get_by_role("button", name="Delete project").click()
    expect(dialog.get_by_text("Type it exactly as shown")).to_be_visible()
    assert Project.objects.filter(name="Storefront EU").exists()
    dialog.get_by_label("Type the project name to confirm").fill("Storefront EU")
    dialog.get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("Project “Storefront EU” and its API keys were deleted.")).to_be_visible()
    expect(page.get_by_text("This organization has no projects yet.")).to_be_visible()
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "project.create",
        "project.rename",
        "project.delete",
    ]


def test_create_a_key_see_it_once_then_remove_it(acme, owner_page, live_server):
    page = owner_page
    project = ProjectFactory(organization=acme.organization, name="Storefront")
    page.goto(f"{live_server.url}/o/acme/projects/{project.pk}/")
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    page.get_by_role("link", name="Create an API key").click()

    expect(page.get_by_text("This project has no API keys yet.")).to_be_visible()
    page.get_by_role("link", name="New API Key").click()
    dialog = page.get_by_role("dialog", name="New API Key")
    dialog.get_by_label("Name").fill("Production")
    dialog.get_by_label("Expires").select_option(label="In 90 days")
    dialog.get_by_role("button", name="Create API Key").click()

    secret = dialog.locator("#new-api-key")
    expect(secret).to_have_text(re.compile(r"^dpk_[0-9A-Za-z]{38}$"))
    raw_key = secret.inner_text()
    expect(dialog).to_contain_text("will not be shown again")
    expect(dialog.get_by_role("button", name="Copy")).to_be_visible()
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("button", name="Copied")).to_be_visible()
    api_key = ApiKey.objects.get(project=project)
    assert api_key_authenticate(raw_key) == api_key

    dialog.get_by_role("button", name="I've stored it securely").click()
    expect(page.locator("dialog")).to_have_count(0)  # closed *and* gone from the document
    table = page.get_by_role("table", name="Project API keys")
    expect(table.get_by_role("cell", name="Production", exact=True)).to_be_visible()
    expect(table.get_by_role("cell", name=api_key.masked)).to_be_visible()
    assert raw_key not in page.content()
    page.reload()
    expect(table.get_by_role("cell", name="Production", exact=True)).to_be_visible()
    assert raw_key not in page.content()
    source = page.request.get(page.url).text()  # the HTML as served, not the live DOM
    assert "Production" in source and api_key.masked in source and raw_key not in source

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_text("Done · 1 key")).to_be_visible()
    page.get_by_role("link", name="Manage API keys").click()

    page.get_by_role("link", name="Delete API key Production").click()
    dialog = page.get_by_role("dialog", name="Remove API key")
    expect(dialog).to_contain_text("irreversible")
    dialog.get_by_role("button", name="Remove API key").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("API key “Production” removed.")).to_be_visible()
    expect(page.get_by_text("This project has no API keys yet.")).to_be_visible()
    # Revocation is promised within a second in every process (this one cached the key above).
    deadline = time.monotonic() + 1.0
    while api_key_authenticate(raw_key) is not None:
        assert time.monotonic() < deadline, "a removed key kept working for more than a second"
        time.sleep(0.05)


def test_cancel_closes_a_dialog_without_changes(acme, owner_page, live_server):
    page = owner_page
    project = ProjectFactory(organization=acme.organization)
    ApiKeyFactory(project=project, name="Keep me")
    page.goto(f"{live_server.url}/o/acme/projects/{project.pk}/settings/api-keys/")
    page.get_by_role("link", name="Delete API key Keep me").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("cell", name="Keep me", exact=True)).to_be_visible()
    assert ApiKey.objects.filter(name="Keep me").exists()


def test_a_viewer_sees_keys_without_the_buttons(login_page, live_server):
    membership = MembershipFactory(role=Role.VIEWER)
    project = ProjectFactory(organization=membership.organization)
    ApiKeyFactory(project=project, name="Production")
    page = login_page(membership.user)
    page.goto(f"{live_server.url}/o/{membership.organization.slug}/projects/{project.pk}/settings/api-keys/")
    expect(page.get_by_role("cell", name="Production", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="New API Key")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Delete API key"))).to_have_count(0)
