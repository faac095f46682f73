from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from console.models import Membership, Organization, Role
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)

INVITEE = "dev@example.com"
PASSPHRASE = "a long and unusual passphrase 7"


@pytest.fixture
def second_browser(browser):
    """A separate browser context (its own cookies): the invitee. Closed before the live server
    stops, so its keep-alive connections do not hold database sessions open."""
    context = browser.new_context()
    yield context
    context.close()


def test_admin_invites_a_developer_who_signs_up_then_is_demoted_and_the_audit_log_shows_it(
    login_page, live_server, second_browser, settings
):
    settings.SHOW_INVITATION_LINKS = True  # the embedded mode's development display of the link
    owner = MembershipFactory(organization__name="Acme", organization__slug="acme", role=Role.OWNER)
    organization = owner.organization
    admin = MembershipFactory(organization=organization, role=Role.ADMIN, user__email="admin@example.com")
    project = ProjectFactory(organization=organization, name="Storefront")
    keys_tab = live_server.url + reverse("projects:api_keys", args=[organization.slug, project.pk])
    page = login_page(admin.user)

    # The admin invites a developer from Settings › Members.
    page.goto(f"{live_server.url}/o/acme/")
    page.get_by_role("navigation", name="Organization").get_by_role("link", name="Settings").click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Invite member").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Email").fill(INVITEE)
    dialog.get_by_label("Role").select_option("developer")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(dialog.get_by_role("heading", name="Invitation created")).to_be_visible()
    expect(dialog).to_contain_text("We emailed the invitation to dev@example.com")
    # The invitee gets the link by email, and only they do (in production nobody else sees it).
    assert [message.to for message in mail.outbox] == [[INVITEE]]
    found = re.search(rf"{re.escape(live_server.url)}/invitations/[\w-]+/", mail.outbox[0].body)
    assert found is not None
    link = found.group(0)
    expect(dialog.get_by_role("note")).to_contain_text("Development only")
    expect(dialog.locator("#invitation-link")).to_have_text(link)
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("button", name="Copied")).to_be_visible()
    # The pending list behind the dialog refreshed itself.
    expect(page.locator("#invitations")).to_contain_text(INVITEE)
    dialog.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    # The invitee, in a browser of their own, signs up through the link and lands in Acme as developer.
    invitee_page = second_browser.new_page()
    invitee_page.goto(link)
    expect(invitee_page.get_by_role("heading", name="Join Acme")).to_be_visible()
    invitee_page.get_by_label("Your name").fill("Dana Dev")
    invitee_page.get_by_label("Password:", exact=True).fill(PASSPHRASE)
    invitee_page.get_by_label("Password (again)").fill(PASSPHRASE)
    invitee_page.get_by_role("button", name="Sign up and join").click()
    expect(invitee_page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(invitee_page).to_have_url(f"{live_server.url}/o/acme/")
    expect(invitee_page.get_by_role("status")).to_contain_text("You joined Acme as Developer")
    # As a developer they may create API keys.
    invitee_page.goto(keys_tab)
    expect(invitee_page.get_by_role("link", name="New API Key")).to_be_visible()
    assert Membership.objects.get(user__email=INVITEE, organization=organization).role == Role.DEVELOPER

    # The admin demotes them to viewer.
    page.reload()
    expect(page.locator("#invitations")).not_to_contain_text(INVITEE)
    page.get_by_label(f"Role of {INVITEE}").select_option("viewer")
    page.get_by_role("row").filter(has_text=INVITEE).get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_contain_text(f"{INVITEE} is now Viewer.")

    # The viewer sees their new role and none of the admin's controls.
    invitee_page.goto(f"{live_server.url}/o/acme/settings/")
    expect(invitee_page.get_by_role("main").get_by_text("Viewer", exact=True)).to_be_visible()
    expect(invitee_page.get_by_role("link", name="Audit log")).to_have_count(0)
    invitee_page.get_by_role("navigation", name="Settings").get_by_role("link", name="Members").click()
    expect(invitee_page.get_by_role("row").filter(has_text=INVITEE)).to_contain_text("Viewer")
    expect(invitee_page.get_by_role("link", name="Invite member")).to_have_count(0)
    expect(invitee_page.get_by_role("button", name="Change role")).to_have_count(0)
    # …and, as a viewer, no longer the "New API Key" button.
    invitee_page.goto(keys_tab)
    expect(invitee_page.get_by_role("heading", name="Storefront")).to_be_visible()
    expect(invitee_page.get_by_role("link", name="New API Key")).to_have_count(0)

    # The audit log shows all of it, newest first.
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit log").click()
    rows = page.get_by_role("row")
    expect(rows.nth(1)).to_contain_text("Member's role changed")
    expect(rows.nth(1)).to_contain_text("admin@example.com")
    expect(rows.nth(1)).to_contain_text("developer")
    expect(rows.nth(2)).to_contain_text("Invitation accepted")
    expect(rows.nth(2)).to_contain_text(INVITEE)
    expect(rows.nth(3)).to_contain_text("Invitation sent")
    expect(rows.nth(3)).to_contain_text("admin@example.com")
    page.get_by_label("Action").select_option("invitation.accept")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row")).to_have_count(2)


def test_owner_deletes_the_organization_after_typing_its_name(login_page, live_server):
    owner = MembershipFactory(organization__name="Doomed Co", organization__slug="doomed", role=Role.OWNER)
    ProjectFactory(organization=owner.organization, name="Storefront")
    page = login_page(owner.user)
    page.goto(f"{live_server.url}/o/doomed/settings/")
    page.get_by_role("link", name="Delete organization").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Type “Doomed Co” to confirm").fill("Doomed")
    dialog.get_by_role("button", name="Delete organization").click()
    expect(page.get_by_role("dialog")).to_contain_text("exactly to confirm")
    assert Organization.objects.filter(slug="doomed").exists()
    page.get_by_role("dialog").get_by_label("Type “Doomed Co” to confirm").fill("Doomed Co")
    page.get_by_role("dialog").get_by_role("button", name="Delete organization").click()
    expect(page.get_by_role("heading", name="New organization")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        "Organization “Doomed Co” and everything in it was deleted."
    )
    assert not Organization.objects.filter(slug="doomed").exists()
