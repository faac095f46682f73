from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accelerate.models import AccelerateConfig
from accelerate.services import accelerate_create
from console.audit import Actor
from projects.services import api_key_authenticate
from tests.factories import MembershipFactory, ProjectFactory
from userdb.encryption import encrypt

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


def test_a_failed_check_keeps_what_was_typed_and_the_buttons_wait_for_the_check(
    login_page, live_server, database_url, settings
):
    settings.ACCELERATE_CHECK_TIMEOUT = 3.0
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    page = login_page(membership.user)
    page.goto(live_server.url + reverse("accelerate:tab", args=[project.organization.slug, project.pk]))
    field = page.get_by_label("Database connection string")
    # A host that does not answer (TEST-NET-1): the check waits for it, the buttons with it.
    typed = "postgresql://app:typed-secret@192.0.2.1:5432/app"
    field.fill(typed)
    page.get_by_label("Region").select_option("eu-west-1")
    submit = page.get_by_role("button", name="Configure Accelerate")
    submit.click()
    expect(submit).to_be_disabled()
    expect(page.get_by_role("button", name="Use the demo database")).to_be_disabled()
    expect(page.get_by_role("alert")).to_be_visible(timeout=15_000)
    expect(submit).to_be_enabled()
    expect(field).to_have_value(typed)  # kept in the browser...
    assert "typed-secret" not in page.request.get(page.url).text()  # ...never sent back
    # The corrected string is checked first; the region the host revealed follows.
    field.fill(database_url())
    submit.click()
    expect(page.locator("#accelerate-url")).to_contain_text("__API_KEY__")


def test_use_the_demo_database_in_one_click(login_page, live_server, demo_sandbox):
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    page = login_page(membership.user)
    page.goto(live_server.url + reverse("accelerate:tab", args=[project.organization.slug, project.pk]))
    page.get_by_role("button", name="Use the demo database").click()
    expect(page.get_by_text("Accelerate is configured.")).to_be_visible()
    expect(page.locator("#accelerate-url")).to_contain_text("__API_KEY__")


def test_generate_an_api_key_see_it_in_every_snippet_once_and_copy_them(
    login_page, live_server, database_url
):
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    accelerate_create(
        project=project, actor=Actor.command("test"), connection_string=database_url(), region="eu-west-1"
    )
    page = login_page(membership.user)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(live_server.url + reverse("accelerate:tab", args=[project.organization.slug, project.pk]))
    snippets = page.locator("#accelerate-snippets")
    code_blocks = snippets.locator("pre, .secret code")
    expect(code_blocks).to_have_count(3)
    for block in code_blocks.all():
        expect(block).to_contain_text("__API_KEY__")

    page.get_by_role("button", name="Generate API key").click()
    expect(page.get_by_text("created and filled in below")).to_be_visible()
    url_text = page.locator("#accelerate-url").inner_text()
    key = url_text.split("api_key=", 1)[1]
    assert api_key_authenticate(key) is not None
    for block in code_blocks.all():
        expect(block).to_contain_text(key)
        expect(block).not_to_contain_text("__API_KEY__")
    # Every code block has a Copy button, and it copies that block.
    copy_buttons = snippets.locator("button[data-copy]")
    expect(copy_buttons).to_have_text(["Copy", "Copy", "Copy"])
    for n, block in enumerate(code_blocks.all()):
        copy_buttons.nth(n).click()
        expect(copy_buttons.nth(n)).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == block.inner_text().strip()
    # The browser keeps nothing, and the key is not shown again.
    stored = page.evaluate("JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
    assert key not in stored
    page.reload()
    expect(page.locator("#accelerate-url")).to_contain_text("__API_KEY__")
    assert key not in page.content()


def test_the_dashboard_and_overview_say_unreachable_when_the_database_went_away(
    login_page, live_server, database_url
):
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization, name="Storefront")
    config = accelerate_create(
        project=project, actor=Actor.command("test"), connection_string=database_url(), region="eu-west-1"
    )
    # As after a restart that moved the server: the stored string points where nothing answers.
    nowhere = re.sub(r"@[^/]+/", "@127.0.0.1:1/", database_url(), count=1)
    AccelerateConfig.objects.filter(pk=config.pk).update(connection_string=encrypt(nowhere))
    page = login_page(membership.user)
    page.goto(live_server.url + reverse("projects:dashboard", args=[project.organization.slug, project.pk]))
    step = page.locator("li.step").filter(has_text="Configure Accelerate")
    expect(step.locator(".badge")).to_have_text("Unreachable")  # the live check, after the page loaded
    expect(step).to_contain_text("127.0.0.1:1")
    page.goto(live_server.url + reverse("organization_overview", args=[project.organization.slug]))
    expect(page.get_by_role("row", name=re.compile("Storefront"))).to_contain_text("Accelerate: Unreachable")
