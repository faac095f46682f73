"""The "Forgot password?" flow: Django's password-reset views as a person uses them, through the mail."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.urls import reverse

from console.models import User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a fresh and unusual passphrase 9"
RESET = reverse("password_reset")


def ask_for_reset(client, email: str, **extra: str):
    return client.post(RESET, {"email": email}, **extra)


def reset_link(to: str) -> str:
    """The path of the link in the last email, which went to ``to`` only."""
    message = mail.outbox[-1]
    assert message.to == [to]
    found = re.search(r"http://testserver(/account/password/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def set_new_password(client, link: str, password: str = NEW_PASSWORD):
    form = client.get(link, follow=True)
    return client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password1": password, "new_password2": password},
        follow=True,
    )


def test_the_login_page_links_to_forgot_password(client):
    page = client.get(reverse("login")).content.decode()
    assert f'<a href="{RESET}">Forgot password?</a>' in page
    form = client.get(RESET).content.decode()
    assert "Reset your password" in form and "within 1 hour" in form


def test_a_person_resets_their_password_through_the_emailed_link(client):
    user = UserFactory(email="ada@example.com")
    sent = ask_for_reset(client, "ada@example.com", follow=True)
    assert "Check your email" in sent.content.decode()
    assert mail.outbox[-1].subject == "Reset your Data Platform Console password"
    link = reset_link("ada@example.com")
    done = set_new_password(client, link)
    assert "Your new password is set" in done.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)
    assert (
        client.post(reverse("login"), {"username": user.email, "password": NEW_PASSWORD}).status_code == 302
    )


def test_the_link_works_once(client):
    UserFactory(email="ada@example.com")
    ask_for_reset(client, "ada@example.com")
    link = reset_link("ada@example.com")
    set_new_password(client, link)
    again = client.get(link, follow=True).content.decode()
    assert "This password reset link is not valid" in again
    assert "<form" not in again.split("Set a new password</h1>", 1)[1]


def test_the_link_expires(client, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    user = UserFactory(email="ada@example.com")
    ask_for_reset(client, "ada@example.com")
    link = reset_link("ada@example.com")
    later = datetime.now() + timedelta(seconds=3601)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)
    assert "This password reset link is not valid" in client.get(link, follow=True).content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(client):
    UserFactory(email="known@example.com")
    known = ask_for_reset(client, "known@example.com")
    unknown = ask_for_reset(client, "unknown@example.com")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known["Location"] == reverse("password_reset_done")
    # Each address gets one email: a link for the account, a note that there is none.
    assert [message.to for message in mail.outbox] == [["known@example.com"], ["unknown@example.com"]]
    assert "/account/password/reset/" in mail.outbox[0].body
    assert "there is no account with it" in mail.outbox[1].body
    assert "/account/password/reset/" not in mail.outbox[1].body


def test_requests_are_limited_per_address_asked_for_whether_or_not_it_exists(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "account_email": "2/3600"}
    UserFactory(email="known@example.com")
    for email in ("known@example.com", "unknown@example.com"):
        assert [ask_for_reset(client, email).status_code for _ in range(2)] == [302, 302]
        refused = ask_for_reset(client, email)
        assert refused.status_code == 429 and refused["Retry-After"]
        assert "Too many attempts. Try again in" in refused.content.decode()
    assert len(mail.outbox) == 4


def test_requests_are_limited_per_client_address(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "account_email_client": "2/3600"}
    assert [ask_for_reset(client, f"n{n}@example.com").status_code for n in range(3)] == [302, 302, 429]


def test_setting_a_new_password_lifts_a_sign_in_pause(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    user = UserFactory(email="ada@example.com")
    for _ in range(2):
        client.post(reverse("login"), {"username": user.email, "password": "guess"})
    assert client.post(reverse("login"), {"username": user.email, "password": PASSWORD}).status_code == 429
    ask_for_reset(client, user.email)
    set_new_password(client, reset_link(user.email))
    assert (
        client.post(reverse("login"), {"username": user.email, "password": NEW_PASSWORD}).status_code == 302
    )


def test_an_account_made_without_a_password_can_set_one(client):
    user = User.objects.create_user("ops@example.com", password=None)
    assert not user.has_usable_password()
    ask_for_reset(client, "ops@example.com")
    set_new_password(client, reset_link("ops@example.com"))
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_a_deactivated_account_gets_no_link(client):
    UserFactory(email="gone@example.com", is_active=False)
    ask_for_reset(client, "gone@example.com")
    assert "/account/password/reset/" not in mail.outbox[-1].body
