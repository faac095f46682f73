"""A rate-limited htmx form shows why in place (htmx swaps the 429 answer, configured in base.html)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from projects.models import ApiKey
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_creating_keys_too_fast_says_so_in_the_dialog(login_page, live_server, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_key_create": "1/600"}
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization)
    page = login_page(membership.user)
    keys = f"{live_server.url}/o/{membership.organization.slug}/projects/{project.pk}/settings/api-keys/"
    page.goto(keys)

    page.get_by_role("link", name="New API Key").click()
    dialog = page.get_by_role("dialog", name="New API Key")
    dialog.get_by_label("Name").fill("First")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.locator("#new-api-key")).to_have_text(re.compile(r"^dpk_"))
    dialog.get_by_role("button", name="I've stored it securely").click()

    page.get_by_role("link", name="New API Key").click()
    dialog = page.get_by_role("dialog", name="New API Key")
    dialog.get_by_label("Name").fill("Second")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Too many attempts. Try again in")
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["First"]
