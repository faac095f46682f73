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


def test_without_a_mail_server_the_dialog_says_the_mail_went_to_the_terminal(
    admin_client, organization, settings
):
    """The embedded mode prints email in the terminal: the dialog does not claim it was emailed."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    response = admin_client.post(
        reverse("invitation_create", args=[organization.slug]),
        {"email": "dev@example.com", "role": "developer"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert "We emailed" not in html
    assert "printed in the terminal where the console runs" in html
    assert "pass the link on yourself" in html


def test_the_invite_dialog_shows_the_link_once_and_emails_it(admin_client, organization):
    url = reverse("invitation_create", args=[organization.slug])
    dialog = admin_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert dialog.lstrip().startswith("<dialog") and "Send invitation" in dialog
    response = admin_client.post(
        url, {"email": "dev@example.com", "role": "developer"}, headers={"HX-Request": "true"}
    )
    assert "invitationCreated" in response["HX-Trigger"]
    html = response.content.decode()
    found = re.search(r'<code id="invitation-link">([^<]+)</code>', html)
    assert found is not None
    link = found.group(1)
    assert link.startswith("http://testserver/invitations/")
    assert "We emailed this link to" in html
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dev@example.com"]
    assert link in mail.outbox[0].body
    # The members page lists the invitation but never the link again.
    members = admin_client.get(reverse("organization_members", args=[organization.slug])).content.decode()
    assert "dev@example.com" in members and "Pending invitations" in members
    assert link.rsplit("/", 2)[-2] not in members


def test_the_invitations_list_refreshes_as_a_fragment(admin_client, admin, organization):
    invite(admin, email="listed@example.com")
    html = admin_client.get(
        reverse("organization_members", args=[organization.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith('<section id="invitations"')
    assert "listed@example.com" in html


def test_a_mail_server_failure_still_shows_the_link(admin_client, organization, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1
    response = admin_client.post(
        reverse("invitation_create", args=[organization.slug]), {"email": "dev@example.com", "role": "viewer"}
    )
    html = response.content.decode()
    assert "could not be sent" in html
    assert 'id="invitation-link"' in html


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
    client.post(reverse("signup"), {"email": "x@example.com", "password1": STRONG, "password2": STRONG})
    assert not User.objects.filter(email="x@example.com").exists()
    assert "Sign up" not in client.get(reverse("login")).content.decode()


def test_open_sign_up_when_allowed(client, settings):
    settings.ALLOW_SIGNUP = True
    assert reverse("signup") in client.get(reverse("login")).content.decode()
    response = client.post(
        reverse("signup"),
        {"email": "Self@Example.com", "name": "Self", "password1": STRONG, "password2": STRONG},
        follow=True,
    )
    assert "not a member of any organization yet" in response.content.decode()
    assert User.objects.get(email="self@example.com").check_password(STRONG)


def test_open_sign_up_refuses_a_taken_email(client, settings):
    settings.ALLOW_SIGNUP = True
    taken = UserFactory()
    response = client.post(
        reverse("signup"), {"email": taken.email, "password1": STRONG, "password2": STRONG}
    )
    assert "already exists" in response.content.decode()


def test_django_admin_lists_invitations_without_their_digest(admin, client):
    invitation, _ = invite(admin, email="listed@example.com")
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    listing = client.get(reverse("admin:console_invitation_changelist")).content.decode()
    assert "listed@example.com" in listing
    detail = client.get(reverse("admin:console_invitation_change", args=[invitation.pk])).content.decode()
    assert invitation.token_digest not in detail
