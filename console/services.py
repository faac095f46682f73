"""Writes of the core: users, organizations, memberships, invitations (login throttling: throttling.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from console import permissions, throttling
from console.audit import Actor, audit_record
from console.models import Invitation, Membership, Organization, Role, User
from console.products import products_release_organization
from console.ratelimit import rate_limit_consume
from console.selectors import SIGNUP_LINK_SALT

logger = logging.getLogger(__name__)

ORGANIZATION_NAME_MAX = 100
INVITATION_LIFETIME = timedelta(days=7)


def user_create(
    *, email: str, password: str | None, name: str = "", is_staff: bool = False, is_superuser: bool = False
) -> User:
    """Create a user with a unique (case-insensitive) email; no password means they cannot log in yet.

    ``is_staff`` lets them sign in to Django admin with only the permissions granted to them
    there; ``is_superuser`` gives every permission (and implies staff)."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not a valid email address."}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": f"A user with the email {email} already exists."})
    user = User(email=email, name=name.strip(), is_staff=is_staff or is_superuser, is_superuser=is_superuser)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    user.save()
    return user


def _clean_organization_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter a name for the organization."})
    if len(name) > ORGANIZATION_NAME_MAX:
        raise ValidationError(
            {"name": f"The name can have at most {ORGANIZATION_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


def organization_slug_suggest(*, name: str) -> str:
    """A URL-safe slug for the name, unique among organizations (``acme``, ``acme-2``, …)."""
    base = slugify(name)[:40] or "organization"
    slug, counter = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{counter}"
        counter += 1
    return slug


@transaction.atomic
def organization_create(*, name: str, owner: User, actor: Actor, slug: str | None = None) -> Organization:
    """Create an organization whose owner is ``owner``.

    Without a slug, one is derived from the name and made unique; a slug given
    explicitly must be free, or a ValidationError names the conflict.
    """
    name = _clean_organization_name(name)
    if slug is None:
        slug = organization_slug_suggest(name=name)
    else:
        slug = slug.strip().lower()
        if slugify(slug) != slug or not slug:
            raise ValidationError({"slug": "Use only lowercase letters, digits and hyphens."})
        if len(slug) > 50:
            raise ValidationError({"slug": "The slug can have at most 50 characters."})
        if Organization.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": f"The slug “{slug}” is already taken."})
    organization = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    audit_record(
        actor=actor,
        organization=organization,
        action="organization.create",
        target=organization,
        details={"owner": owner.email},
    )
    return organization


@transaction.atomic
def membership_add(*, organization: Organization, user: User, role: str, actor: Actor) -> Membership:
    """Make the user a member with the role; a user already a member is refused."""
    if role not in Role.values:
        raise ValidationError({"role": f"“{role}” is not a role; choose one of {', '.join(Role.values)}."})
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError({"user": f"{user.email} is already a member of {organization.name}."})
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit_record(
        actor=actor,
        organization=organization,
        action="member.add",
        target=user,
        details={"role": role},
    )
    return membership


@transaction.atomic
def organization_rename(*, organization: Organization, name: str, actor: Actor) -> Organization:
    """Give the organization a new name (its slug, and so its URLs, stay the same)."""
    name = _clean_organization_name(name)
    previous = organization.name
    if name == previous:
        return organization
    organization.name = name
    organization.save(update_fields=["name"])
    audit_record(
        actor=actor,
        organization=organization,
        action="organization.rename",
        target=organization,
        details={"from": previous, "to": name},
    )
    return organization


def organization_delete(*, organization: Organization, confirm_name: str, actor: Actor) -> list[str]:
    """Delete the organization and, through its foreign keys, everything it owns (projects, their
    API keys and stored connection strings, memberships, invitations). Irreversible.

    ``confirm_name`` must be the organization's name exactly, or a ValidationError says so and
    nothing changes. Each product first undoes what it set up outside the console (outside the
    deleting transaction: it talks to users' databases); what it could not undo is returned,
    for the person to finish by hand. The audit event is written first and survives: its
    organization link is set to NULL and it keeps ``organization_name``.
    """
    if confirm_name.strip() != organization.name:
        raise ValidationError(
            {"confirm_name": f"Type the organization's name, “{organization.name}”, exactly to confirm."}
        )
    leftovers = products_release_organization(organization=organization, actor=actor)
    _organization_delete_rows(organization=organization, actor=actor)
    return leftovers


@transaction.atomic
def _organization_delete_rows(*, organization: Organization, actor: Actor) -> None:
    audit_record(
        actor=actor,
        organization=organization,
        action="organization.delete",
        target=organization,
        details={
            "slug": organization.slug,
            # The core reads projects through the reverse relation (it never imports the projects app).
            "projects": organization.projects.count(),
            "members": organization.memberships.count(),
        },
    )
    organization.delete()


def _owner_count_locked(organization: Organization) -> int:
    """The number of owners, with their rows locked until the transaction ends, so two concurrent
    changes cannot both see "another owner remains" and leave none."""
    return len(
        Membership.objects.select_for_update()
        .filter(organization=organization, role=Role.OWNER)
        .values_list("pk", flat=True)
    )


def _refuse_losing_last_owner(membership: Membership, what: str) -> None:
    if membership.role == Role.OWNER and _owner_count_locked(membership.organization) <= 1:
        raise ValidationError(
            f"{membership.user.email} is the only owner of {membership.organization.name}, so they {what}. "
            "Make another member an owner first."
        )


@transaction.atomic
def membership_role_change(*, membership: Membership, role: str, by: Membership, actor: Actor) -> Membership:
    """Give a member another role.

    ``by`` is the acting member: admins change the roles of non-owners, only owners make or
    demote owners (PermissionDenied otherwise); the last owner cannot be demoted (ValidationError).
    """
    if role not in Role.values:
        raise ValidationError({"role": f"“{role}” is not a role; choose one of {', '.join(Role.values)}."})
    permissions.require_manage_member(by, membership)
    permissions.require_assign_role(by, role)
    if role == membership.role:
        return membership
    if role != Role.OWNER:
        _refuse_losing_last_owner(membership, "cannot be given another role")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="member.role_change",
        target=membership.user,
        details={"from": previous, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, by: Membership, actor: Actor) -> None:
    """Remove a member from the organization (``by`` may manage them; never the last owner)."""
    permissions.require_manage_member(by, membership)
    _refuse_losing_last_owner(membership, "cannot be removed")
    membership.delete()
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="member.remove",
        target=membership.user,
        details={"role": membership.role},
    )


@transaction.atomic
def membership_leave(*, membership: Membership, actor: Actor) -> None:
    """The member leaves the organization; the last owner cannot (ValidationError)."""
    _refuse_losing_last_owner(membership, "cannot leave")
    membership.delete()
    audit_record(
        actor=actor,
        organization=membership.organization,
        action="member.leave",
        target=membership.user,
        details={"role": membership.role},
    )


# Invitations ---------------------------------------------------------------------------------


def invitation_token_digest(token: str) -> str:
    """What is stored for an invitation token: its SHA-256, so a database leak reveals no link."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def invitation_create(
    *, organization: Organization, email: str, role: str, by: Membership, actor: Actor
) -> tuple[Invitation, str]:
    """Invite an email address to the organization with a role, valid for 7 days.

    Returns the invitation and its token; the token exists only in this return value (the
    database keeps its digest): ``invitation_send`` emails it to the invited address. Refused with a
    ValidationError, changing nothing: an invalid email, an existing member, an invitation to
    that email still pending. Only owners may invite owners (PermissionDenied).
    """
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not a valid email address."}) from None
    if role not in Role.values:
        raise ValidationError({"role": f"“{role}” is not a role; choose one of {', '.join(Role.values)}."})
    permissions.require_assign_role(by, role)
    # One invitation at a time per address: lock the organization so two invites cannot race.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization.name}."})
    now = timezone.now()
    if Invitation.objects.filter(
        organization=organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires__gt=now,
    ).exists():
        raise ValidationError(
            {"email": f"{email} already has a pending invitation. Revoke it to send a new one."}
        )
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        token_digest=invitation_token_digest(token),
        invited_by=by.user,
        created=now,
        expires=now + INVITATION_LIFETIME,
    )
    audit_record(
        actor=actor,
        organization=organization,
        action="invitation.create",
        target=invitation,
        target_label=email,
        details={"email": email, "role": role},
    )
    return invitation, token


@transaction.atomic
def invitation_send(
    *,
    organization: Organization,
    email: str,
    role: str,
    by: Membership,
    actor: Actor,
    link_for: Callable[[str], str],
) -> tuple[Invitation, str]:
    """Invite the address (as ``invitation_create``) and email it the link, ``link_for(token)``.

    The email is the only way the link leaves the console (outside the embedded mode's
    development display): whoever follows it has shown they read that mailbox. If the mail
    server refuses, nothing is created (a ValidationError on ``email`` says so), so no
    invitation waits that nobody can accept. Returns the invitation and its link.
    """
    invitation, token = invitation_create(
        organization=organization, email=email, role=role, by=by, actor=actor
    )
    link = link_for(token)
    inviter = invitation.invited_by.display_name if invitation.invited_by else "A member"
    body = (
        f"{inviter} invited you to join {invitation.organization.name} on the Data Platform Console "
        f"as {invitation.get_role_display()}.\n\n"
        f"Accept the invitation: {link}\n\n"
        f"The link works once and expires on {invitation.expires:%Y-%m-%d %H:%M} UTC. "
        "If you did not expect it, ignore this email."
    )
    try:
        send_mail(
            subject=f"Join {invitation.organization.name} on the Data Platform Console",
            message=body,
            from_email=None,
            recipient_list=[invitation.email],
        )
    except Exception as error:  # any transport failure: undo the invitation, say so
        logger.warning("Invitation email to %s failed: %s", invitation.email, type(error).__name__)
        raise ValidationError(
            {
                "email": f"The invitation email to {invitation.email} could not be sent (the mail server "
                "did not take it), so no invitation was made. Try again in a moment; if it keeps "
                "failing, ask the console's operator to check its mail settings."
            }
        ) from None
    return invitation, link


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, by: Membership, actor: Actor) -> Invitation:
    """Revoke a pending invitation so its link stops working (ValidationError once accepted or revoked)."""
    permissions.require_assign_role(by, invitation.role)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(f"The invitation to {invitation.email} was already accepted.")
    if invitation.revoked_at is not None:
        raise ValidationError(f"The invitation to {invitation.email} was already revoked.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        organization=invitation.organization,
        action="invitation.revoke",
        target=invitation,
        target_label=invitation.email,
        details={"email": invitation.email, "role": invitation.role},
    )
    return invitation


def invitation_problem(invitation: Invitation) -> str | None:
    """Why the invitation can no longer be accepted, in words for the invitee; None while it can."""
    if invitation.revoked_at is not None:
        return "This invitation was revoked. Ask an admin of the organization for a new one."
    if invitation.accepted_at is not None:
        return "This invitation was already used. Each invitation link works once; log in to continue."
    if invitation.is_expired():
        return (
            f"This invitation expired on {invitation.expires:%B} {invitation.expires.day}, "
            f"{invitation.expires.year}. "
            "Ask an admin of the organization for a new one."
        )
    return None


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, actor: Actor) -> Membership:
    """The user joins the organization with the invitation's role; the invitation is used up.

    ValidationError, changing nothing, when the invitation is revoked, used or expired, when
    the user's email is not the invited one, or when they are already a member.
    """
    invitation = Invitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    if problem := invitation_problem(invitation):
        raise ValidationError(problem)
    if user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}, but you are signed in as {user.email}. "
            f"Log out and sign in (or sign up) as {invitation.email} to accept it."
        )
    organization = invitation.organization
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError(f"You are already a member of {organization.name}.")
    membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        actor=actor,
        organization=organization,
        action="invitation.accept",
        target=user,
        details={"email": invitation.email, "role": invitation.role, "invitation": invitation.pk},
    )
    return membership


def user_sign_up(*, email: str, password: str, name: str = "") -> User:
    """Create an account that can log in, with a password Django's validators accept.

    ValidationError (keyed ``email`` or ``password``) when the email is invalid or taken or
    the password is too weak; nothing is created then.
    """
    candidate = User(email=email.strip().lower(), name=name.strip())
    try:
        password_validation.validate_password(password, candidate)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    return user_create(email=email, password=password, name=name)


@transaction.atomic
def invitation_sign_up(*, invitation: Invitation, password: str, name: str, actor: Actor) -> User:
    """Create the invitee's account (with the invited email) and accept the invitation, together:
    either both happen or neither does."""
    if problem := invitation_problem(invitation):
        raise ValidationError(problem)
    if User.objects.filter(email__iexact=invitation.email).exists():
        # Only the holder of the link sees this, and the link went only to this address.
        raise ValidationError(
            f"There is already an account with {invitation.email}. Log in to accept the invitation "
            "(if you forgot its password, reset it from the login page)."
        )
    user = user_sign_up(email=invitation.email, password=password, name=name)
    # The request came from a visitor; from here on the actor is the account just created.
    invitation_accept(
        invitation=invitation, user=user, actor=dataclasses.replace(actor, user=user, label=user.email)
    )
    return user


# Emails about accounts: password reset, open sign-up ------------------------------------------


def account_email_throttle(*, email: str, ip_address: str | None) -> None:
    """Count a request that emails an address about its account (a password reset, a sign-up
    link), per recipient and per client address; RateLimited when either is over its limit.
    Counted the same whether or not the address has an account."""
    rate_limit_consume(name="account_email_client", identity=ip_address or "-")
    rate_limit_consume(name="account_email", identity=email.strip().lower())


def _account_email(*, to: str, subject: str, body: str) -> None:
    # Sent or not, the person asking gets the same answer: a failure is only logged.
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
    except Exception as error:
        logger.warning("Account email to %s failed: %s", to, type(error).__name__)


def signup_email_send(
    *, email: str, link_for: Callable[[str], str], login_url: str, password_reset_url: str
) -> None:
    """Email the address the next step of open sign-up, whether or not it has an account, so the
    answer tells nothing: without an account, a link to finish signing up (``link_for(token)``,
    a signed token valid for ``SIGNUP_LINK_MAX_AGE``; following it proves the address); with
    one, how to log in or reset the password."""
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        _account_email(
            to=email,
            subject="Your Data Platform Console account",
            body=(
                "Someone (we hope you) asked to sign up for the Data Platform Console with this "
                "address, but it already has an account.\n\n"
                f"Log in: {login_url}\n"
                f"Forgot the password? Set a new one: {password_reset_url}\n\n"
                "If it was not you, ignore this email: nothing changed."
            ),
        )
        return
    link = link_for(signing.dumps(email, salt=SIGNUP_LINK_SALT))
    valid_for = throttling.duration_words(settings.SIGNUP_LINK_MAX_AGE)
    _account_email(
        to=email,
        subject="Finish signing up for the Data Platform Console",
        body=(
            f"Finish signing up (choose your name and password): {link}\n\n"
            f"The link works for {valid_for}. If you did not ask to sign up, ignore this email: "
            "no account is made without it."
        ),
    )


def password_reset_no_account_email_send(*, email: str, login_url: str, signup_url: str | None) -> None:
    """Tell an address without an account that someone asked to reset its password: the person
    asking gets the same answer, in the same time (one email), whether or not it has one."""
    how = (
        f"To make an account, sign up: {signup_url}"
        if signup_url
        else "Accounts on this console are made by invitation: ask an admin of your organization "
        "to invite you."
    )
    _account_email(
        to=email.strip().lower(),
        subject="Reset your Data Platform Console password",
        body=(
            "Someone (we hope you) asked to reset the password of the Data Platform Console "
            "account with this address, but there is no account with it.\n\n"
            f"{how}\n"
            f"If you have an account with another address, log in with it: {login_url}\n\n"
            "If it was not you, ignore this email."
        ),
    )
