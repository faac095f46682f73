"""Reads of the core, always scoped to what the user may see."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import BadRequest
from django.db.models import Q, QuerySet
from django.http import Http404

from console.models import AuditEvent, Invitation, Membership, Organization, User


def organizations_for_user(*, user: User) -> QuerySet[Organization]:
    """The organizations the user is a member of, by name."""
    return Organization.objects.filter(memberships__user=user).order_by("name", "slug")


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their organizations, by organization name."""
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name")


def membership_for_user(*, user: User, organization_slug: str) -> Membership:
    """The user's membership of the organization with this slug.

    Raises Http404 when there is no such organization *or* the user is not a member:
    an outsider cannot tell the two apart.
    """
    try:
        return Membership.objects.select_related("organization", "user").get(
            user=user, organization__slug=organization_slug
        )
    except Membership.DoesNotExist:
        raise Http404("No such organization.") from None


def organization_members(*, organization: Organization) -> QuerySet[Membership]:
    """The organization's memberships with their users, owners first."""
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("role", "user__email")
    )


def audit_events(*, organization: Organization) -> QuerySet[AuditEvent]:
    """The organization's audit events, newest first."""
    return AuditEvent.objects.filter(organization=organization).select_related("actor")


def organization_member(*, organization: Organization, membership_id: int) -> Membership:
    """One membership of this organization (Http404 for another organization's, or none)."""
    try:
        return Membership.objects.select_related("user", "organization").get(
            pk=membership_id, organization=organization
        )
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None


def organization_owner_count(*, organization: Organization) -> int:
    """How many owners the organization has (the last one can neither leave nor be demoted)."""
    return Membership.objects.filter(organization=organization, role="owner").count()


def organization_open_invitations(*, organization: Organization) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked (expired ones included, to be revoked), newest first."""
    return (
        Invitation.objects.filter(
            organization=organization, accepted_at__isnull=True, revoked_at__isnull=True
        )
        .select_related("invited_by")
        .order_by("-created", "-id")
    )


def organization_invitation(*, organization: Organization, invitation_id: int) -> Invitation:
    """One invitation of this organization (Http404 for another organization's, or none)."""
    try:
        return Invitation.objects.select_related("organization").get(
            pk=invitation_id, organization=organization
        )
    except Invitation.DoesNotExist:
        raise Http404("No such invitation.") from None


def invitation_for_token(*, token: str) -> Invitation | None:
    """The invitation whose link carries this token (looked up by digest), or None for a wrong token."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return Invitation.objects.select_related("organization", "invited_by").filter(token_digest=digest).first()


def account_exists(*, email: str) -> bool:
    """Whether someone already has an account with this email (case-insensitive)."""
    return User.objects.filter(email__iexact=email.strip()).exists()


SIGNUP_LINK_SALT = "console.signup"


def signup_email_for_token(*, token: str) -> str | None:
    """The address a sign-up link was sent to, or None when the link is not one of ours or is
    older than ``SIGNUP_LINK_MAX_AGE``."""
    try:
        email = signing.loads(token, salt=SIGNUP_LINK_SALT, max_age=settings.SIGNUP_LINK_MAX_AGE)
    except signing.BadSignature:  # tampered, or expired (SignatureExpired is a BadSignature)
        return None
    return email if isinstance(email, str) else None


# Audit log ------------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AuditCursor:
    """Where a page of the audit log starts: just older than this (created, id)."""

    created: datetime
    id: int

    def encode(self) -> str:
        return f"{(self.created - _EPOCH) // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def decode(cls, value: str) -> AuditCursor | None:
        """The cursor from a ``before`` parameter (None when empty: the first page).

        Anything else that is not a cursor this page made — not two numbers, a time outside
        what a date can hold, an id past bigint — is bad input: ``BadRequest`` (400)."""
        if not value:
            return None
        micros, _, event_id = value.partition(".")
        if micros.isdigit() and event_id.isdigit() and len(micros) <= 18 and int(event_id) < 2**63:
            try:
                return cls(created=_EPOCH + timedelta(microseconds=int(micros)), id=int(event_id))
            except OverflowError:  # past the year 9999
                pass
        raise BadRequest("The audit log's “before” parameter is not a position in the log.")


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: AuditCursor | None


def audit_log_page(
    *,
    organization: Organization,
    action: str = "",
    actor: str = "",
    before: AuditCursor | None = None,
    limit: int = AUDIT_PAGE_SIZE,
) -> AuditPage:
    """One page of the organization's audit events, newest first, optionally only one action
    and/or one actor (by label), starting just after ``before``. One query whatever the page:
    keyset pagination over the (organization, created, id) index, never an OFFSET."""
    events = AuditEvent.objects.filter(organization=organization)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label=actor)
    if before is not None:
        # created <= c bounds the index scan; the OR breaks ties between events of the same instant.
        events = events.filter(
            Q(created__lte=before.created) & (Q(created__lt=before.created) | Q(id__lt=before.id))
        )
    rows = list(events.order_by("-created", "-id")[: limit + 1])
    if len(rows) > limit:
        last = rows[limit - 1]
        return AuditPage(events=rows[:limit], next_cursor=AuditCursor(created=last.created, id=last.pk))
    return AuditPage(events=rows, next_cursor=None)


def audit_filter_choices(*, organization: Organization) -> tuple[list[str], list[str]]:
    """The distinct actions and actor labels in the organization's audit log, for the filters."""
    events = AuditEvent.objects.filter(organization=organization)
    actions = list(events.order_by("action").values_list("action", flat=True).distinct())
    actors = list(events.order_by("actor_label").values_list("actor_label", flat=True).distinct())
    return actions, actors


def organization_get(*, slug: str) -> Organization | None:
    """The organization with this slug, for operators' commands (no tenant scoping: an operator
    sees every organization; views use ``membership_for_user``)."""
    return Organization.objects.filter(slug=slug).first()


def user_get_by_email(*, email: str) -> User | None:
    """The account with this email (case-insensitive), for operators' commands."""
    return User.objects.filter(email__iexact=email.strip()).first()
