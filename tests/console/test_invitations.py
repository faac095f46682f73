"""Invitations: creating, emailing, revoking, and the link an invitee follows; sign-up."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console import services
from console.audit import Actor
from console.models import AuditEvent, Invitation, Membership, Role, User
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.command("test")
STRONG = "a long and unusual passphrase 7"


@pytest.fixture
def admin(organization, member_factory) -> Membership:
    member_factory(organization, Role.OWNER)
    return member_factory(organization, Role.ADMIN)


@pytest.fixture
def admin_client(admin) -> Client:
    client = Client()
    client.force_login(admin.user)
    return client


def invite(admin: Membership, email: str = "new@example.com", role: str = Role.DEVELOPER):
    return services.invitation_create(
        organization=admin.organization, email=email, role=role, by=admin, actor=ACTOR
    )


def link_path(token: str) -> str:
    return reverse("invitation_accept", args=[token])


# Creating ------------------------------------------------------------------------------------


def test_an_invitation_stores_only_the_tokens_digest(admin):
    invitation, token = invite(admin, email="  New@Example.com ")
    assert invitation.email == "new@example.com"
    assert invitation.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invitation.objects.filter(pk=invitation.pk).values().get())
    assert invitation.expires - invitation.created == timedelta(days=7)
    event = AuditEvent.objects.get(action="invitation.create")
    assert event.details == {"email": "new@example.com", "role": "developer"}
    assert token not in str(event.details) and token not in event.target_label


@pytest.mark.parametrize(
    ("email", "message"),
    [("not-an-email", "is not a valid email address"), ("", "is not a valid email address")],
)
def test_an_invalid_email_is_refused(admin, email, message):
    with pytest.raises(ValidationError, match=message):
        invite(admin, email=email)
    assert not Invitation.objects.exists()


def test_inviting_an_existing_member_is_refused(admin, organization, member_factory):
    member = member_factory(organization, Role.VIEWER)
    with pytest.raises(ValidationError, match="already a member"):
        invite(admin, email=member.user.email.upper())
    assert not Invitation.objects.exists()


def test_a_second_pending_invitation_to_the_same_email_is_refused_until_revoked(admin):
    first, _ = invite(admin)
    with pytest.raises(ValidationError, match="already has a pending invitation"):
        invite(admin)
    services.invitation_revoke(invitation=first, by=admin, actor=ACTOR)
    invite(admin)
    assert Invitation.objects.count() == 2


def test_an_admin_cannot_invite_an_owner(admin):
    with pytest.raises(PermissionDenied):
        invite(admin, role=Role.OWNER)


def invite_through_the_dialog(admin_client, organization, email: str = "dev@example.com"):
    return admin_client.post(
        reverse("invitation_create", args=[organization.slug]),
        {"email": email, "role": "developer"},
        headers={"HX-Request": "true"},
    )


def emailed_link(to: str) -> str:
    """The invitation link in the one email sent, which went to ``to`` only."""
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [to]
    found = re.search(r"http://testserver/invitations/[\w-]+/", mail.outbox[0].body)
    assert found is not None
    return found.group(0)


def test_in_production_only_the_invited_address_receives_the_link(admin_client, organization, settings):
    settings.SHOW_INVITATION_LINKS = False
    dialog = admin_client.get(
        reverse("invitation_create", args=[organization.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert dialog.lstrip().startswith("<dialog") and "Send invitation" in dialog
    response = invite_through_the_dialog(admin_client, organization)
    assert "invitationCreated" in response["HX-Trigger"]
    link = emailed_link("dev@example.com")
    token = link.rsplit("/", 2)[-2]
    html = response.content.decode()
    assert "We emailed the invitation to <strong>dev@example.com</strong>" in html
    assert token not in html and "invitation-link" not in html
    # The members page lists the invitation but never the link.
    members = admin_client.get(reverse("organization_members", args=[organization.slug])).content.decode()
    assert "dev@example.com" in members and "Pending invitations" in members
    assert token not in members


def test_the_embedded_mode_also_shows_the_link_labelled_as_a_development_convenience(
    admin_client, organization, settings
):
    settings.SHOW_INVITATION_LINKS = True
    html = invite_through_the_dialog(admin_client, organization).content.decode()
    found = re.search(r'<code id="invitation-link">([^<]+)</code>', html)
    assert found is not None
    assert found.group(1) == emailed_link("dev@example.com")
    assert "Development only" in html and "In production it goes only to dev@example.com" in html


@pytest.mark.parametrize("shown", [True, False])
def test_the_invitation_created_answer_is_never_cached(admin_client, organization, settings, shown):
    settings.SHOW_INVITATION_LINKS = shown
    response = invite_through_the_dialog(admin_client, organization)
    assert "no-store" in response["Cache-Control"]


def test_the_console_mail_backend_is_said_to_print_not_send(admin_client, organization, settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    html = invite_through_the_dialog(admin_client, organization).content.decode()
    assert "was printed in the terminal that runs the console" in html
    assert "We emailed" not in html
    assert "dev@example.com" in capsys.readouterr().out


def test_the_invitations_list_refreshes_as_a_fragment(admin_client, admin, organization):
    invite(admin, email="listed@example.com")
    html = admin_client.get(
        reverse("organization_members", args=[organization.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<section id="invitations"')
    assert "listed@example.com" in html


def test_a_mail_server_failure_creates_nothing_and_says_so(admin_client, organization, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    response = admin_client.post(
        reverse("invitation_create", args=[organization.slug]), {"email": "dev@example.com", "role": "viewer"}
    )
    html = response.content.decode()
    assert "The invitation email to dev@example.com could not be sent" in html
    assert "no invitation was made" in html
    assert 'id="invitation-link"' not in html and "/invitations/" not in html
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(action="invitation.create").exists()


def test_inviting_a_member_in_the_form_says_so(admin_client, admin, organization):
    response = admin_client.post(
        reverse("invitation_create", args=[organization.slug]), {"email": admin.user.email, "role": "viewer"}
    )
    assert "is already a member of" in response.content.decode()
    assert not Invitation.objects.exists()


def test_revoking_through_the_page_stops_the_link(admin_client, admin, organization, client):
    invitation, token = invite(admin)
    response = admin_client.post(
        reverse("invitation_revoke", args=[organization.slug, invitation.pk]), follow=True
    )
    assert "was revoked; its link no longer works" in response.content.decode()
    answer = client.get(link_path(token))
    assert answer.status_code == 410
    assert "This invitation was revoked" in answer.content.decode()


# Following the link -------------------------------------------------------------------------


def test_a_new_invitee_signs_up_through_the_link_and_joins_with_the_role(admin, organization, client):
    _, token = invite(admin, email="dev@example.com", role=Role.DEVELOPER)
    page = client.get(link_path(token)).content.decode()
    assert f"Join {organization.name}" in page and "dev@example.com" in page
    response = client.post(
        link_path(token), {"name": "Dev", "password1": STRONG, "password2": STRONG}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("organization_overview", args=[organization.slug])
    assert f"You joined {organization.name} as Developer" in response.content.decode()
    user = User.objects.get(email="dev@example.com")
    assert user.check_password(STRONG)
    assert Membership.objects.get(user=user, organization=organization).role == Role.DEVELOPER
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.actor_label == "dev@example.com"
    assert STRONG not in str(event.details)


def test_the_link_works_once(admin, client):
    _, token = invite(admin)
    client.post(link_path(token), {"password1": STRONG, "password2": STRONG})
    other = Client()
    answer = other.get(link_path(token))
    assert answer.status_code == 410
    assert "already used" in answer.content.decode()


def test_an_expired_invitation_says_so(admin, client):
    invitation, token = invite(admin)
    Invitation.objects.filter(pk=invitation.pk).update(expires=timezone.now() - timedelta(minutes=1))
    answer = client.get(link_path(token))
    assert answer.status_code == 410
    assert "This invitation expired on" in answer.content.decode()
    client.post(link_path(token), {"password1": STRONG, "password2": STRONG})
    assert not User.objects.filter(email=invitation.email).exists()


def test_a_tampered_token_says_the_link_is_not_valid(admin, client):
    _, token = invite(admin)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    answer = client.get(link_path(tampered))
    assert answer.status_code == 404
    assert "This invitation link is not valid" in answer.content.decode()


def test_a_weak_or_mismatched_password_is_explained_and_nothing_is_created(admin, client):
    invitation, token = invite(admin)
    weak = client.post(link_path(token), {"password1": "password", "password2": "password"})
    assert "This password is too common." in weak.content.decode()
    differ = client.post(link_path(token), {"password1": STRONG, "password2": STRONG + "x"})
    assert "The two passwords differ" in differ.content.decode()
    assert not User.objects.filter(email=invitation.email).exists()
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_an_invitee_with_an_account_logs_in_and_accepts(admin, organization, client):
    existing = UserFactory(email="known@example.com")
    _, token = invite(admin, email="known@example.com", role=Role.VIEWER)
    page = client.get(link_path(token)).content.decode()
    assert "Log in to accept" in page
    response = client.post(
        reverse("login") + f"?next={link_path(token)}",
        {"username": "known@example.com", "password": PASSWORD, "next": link_path(token)},
        follow=True,
    )
    assert "Accept invitation" in response.content.decode()
    client.post(link_path(token))
    assert Membership.objects.get(user=existing, organization=organization).role == Role.VIEWER


def test_the_invitation_page_is_the_same_whether_or_not_the_address_has_an_account(admin, client):
    UserFactory(email="known@example.com")
    pages = []
    for email in ("known@example.com", "unknown@example.com"):
        _, token = invite(admin, email=email)
        response = client.get(link_path(token))
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        html = response.content.decode().replace(email, "EMAIL").replace(token, "TOKEN")
        # CSRF tokens are masked differently on every page.
        pages.append(re.sub(r'(csrfmiddlewaretoken" value=|x-csrftoken": )"[^"]+"', "CSRF", html))
    assert pages[0] == pages[1]
    assert "Sign up and join" in pages[0] and "Log in to accept" in pages[0]


def test_signing_up_through_the_link_for_an_address_with_an_account_says_to_log_in(admin, client):
    existing = UserFactory(email="known@example.com")
    invitation, token = invite(admin, email="known@example.com")
    response = client.post(link_path(token), {"password1": STRONG, "password2": STRONG})
    assert "There is already an account with known@example.com. Log in to accept" in response.content.decode()
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_a_different_signed_in_account_is_refused_clearly(admin, organization, client):
    _, token = invite(admin, email="invitee@example.com")
    stranger = MembershipFactory().user
    client.force_login(stranger)
    for response in (client.get(link_path(token)), client.post(link_path(token))):
        assert response.status_code == 403
        html = response.content.decode()
        assert (
            f"You are signed in as {stranger.email}, but this invitation is for invitee@example.com" in html
        )
    assert not Membership.objects.filter(user=stranger, organization=organization).exists()


# Sign-up -------------------------------------------------------------------------------------


def test_open_sign_up_is_off_by_default(client):
    response = client.get(reverse("signup"))
    assert response.status_code == 403
    assert "created by invitation" in response.content.decode()
    client.post(reverse("signup"), {"email": "x@example.com"})
    assert not mail.outbox
    assert "Sign up" not in client.get(reverse("login")).content.decode()


def signup_link(to: str) -> str:
    message = mail.outbox[-1]
    assert message.to == [to]
    found = re.search(r"http://testserver(/signup/[^/\s]+/)", message.body)
    assert found is not None, message.body
    return found.group(1)


def test_open_sign_up_emails_a_link_that_finishes_it(client, settings):
    settings.ALLOW_SIGNUP = True
    assert reverse("signup") in client.get(reverse("login")).content.decode()
    sent = client.post(reverse("signup"), {"email": "Self@Example.com"}, follow=True)
    assert "Check your email" in sent.content.decode()
    assert not User.objects.filter(email="self@example.com").exists()
    link = signup_link("self@example.com")
    page = client.get(link).content.decode()
    assert "Finish signing up" in page and 'value="self@example.com" readonly' in page
    response = client.post(link, {"name": "Self", "password1": STRONG, "password2": STRONG}, follow=True)
    assert "not a member of any organization yet" in response.content.decode()
    assert User.objects.get(email="self@example.com").check_password(STRONG)
    # The link has done its job.
    client.logout()
    again = client.get(link)
    assert again.status_code == 410 and "This sign-up link was used" in again.content.decode()


def test_open_sign_up_answers_the_same_whether_or_not_the_address_has_an_account(client, settings):
    settings.ALLOW_SIGNUP = True
    taken = UserFactory(email="taken@example.com")
    answers = [
        client.post(reverse("signup"), {"email": email}) for email in ("taken@example.com", "new@example.com")
    ]
    assert [(a.status_code, a["Location"]) for a in answers] == [(302, reverse("signup_sent"))] * 2
    # Only the mailbox learns which: the account's owner is told how to log in, the new address gets a link.
    assert [message.to for message in mail.outbox] == [["taken@example.com"], ["new@example.com"]]
    assert "already has an account" in mail.outbox[0].body and "/signup/" not in mail.outbox[0].body
    assert reverse("password_reset") in mail.outbox[0].body
    assert "/signup/" in mail.outbox[1].body
    taken.refresh_from_db()
    assert taken.check_password(PASSWORD)


def test_a_tampered_or_expired_sign_up_link_says_so(client, settings):
    settings.ALLOW_SIGNUP = True
    client.post(reverse("signup"), {"email": "late@example.com"})
    link = signup_link("late@example.com")
    tampered = link[:-2] + ("A/" if link[-2] != "A" else "B/")
    assert "This sign-up link is not valid" in client.get(tampered).content.decode()
    settings.SIGNUP_LINK_MAX_AGE = -1
    expired = client.get(link)
    assert expired.status_code == 404 and "This sign-up link is not valid" in expired.content.decode()
    client.post(link, {"password1": STRONG, "password2": STRONG})
    assert not User.objects.filter(email="late@example.com").exists()


def test_sign_up_emails_are_limited_per_recipient(client, settings):
    settings.ALLOW_SIGNUP = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "account_email": "1/3600"}
    assert client.post(reverse("signup"), {"email": "x@example.com"}).status_code == 302
    refused = client.post(reverse("signup"), {"email": "x@example.com"})
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert len(mail.outbox) == 1


def test_django_admin_lists_invitations_without_their_digest(admin, client):
    invitation, _ = invite(admin, email="listed@example.com")
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get(reverse("admin:console_invitation_changelist")).content.decode()
    assert "listed@example.com" in listing
    detail = client.get(reverse("admin:console_invitation_change", args=[invitation.pk])).content.decode()
    assert invitation.token_digest not in detail
