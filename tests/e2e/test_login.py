from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from console.models import Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a fresh and unusual passphrase 9"


def test_log_in_through_the_form_see_the_overview_and_switch_organization(page, live_server):
    membership = MembershipFactory(organization__name="Acme", organization__slug="acme")
    ProjectFactory(organization=membership.organization, name="Storefront")
    other = MembershipFactory(
        user=membership.user, role=Role.VIEWER, organization__name="Zeta Labs"
    ).organization
    ProjectFactory(organization=other, name="Analytics")

    page.goto(live_server.url + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Email").fill(membership.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="Storefront")).to_be_visible()

    page.locator("details.org-switcher > summary").click()
    page.get_by_role("listitem").filter(has_text="Zeta Labs").click()
    expect(page).to_have_url(re.compile(rf"/o/{other.slug}/$"))
    expect(page.get_by_role("link", name="Analytics")).to_be_visible()
    expect(page.get_by_role("link", name="Storefront")).to_have_count(0)

    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics")).to_be_visible()


def test_wrong_password_shows_the_error_in_the_form(page, live_server):
    membership = MembershipFactory()
    page.goto(live_server.url + "/login/")
    page.get_by_label("Email").fill(membership.user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")


def test_forgot_password_through_the_emailed_link_then_log_in(page, live_server):
    membership = MembershipFactory(organization__name="Acme")
    email = membership.user.email
    page.goto(live_server.url + "/login/")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    assert [message.to for message in mail.outbox] == [[email]]
    found = re.search(r"http://[^\s]+/account/password/reset/[^\s]+/", mail.outbox[0].body)
    assert found is not None
    page.goto(found.group(0))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    page.get_by_label("New password:", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Password set")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
