"""Reads of the core, always scoped to what the user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from console.models import AuditEvent, Membership, Organization, User


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


def organization_projects(*, organization: Organization) -> QuerySet[Any]:
    """The organization's projects for the Overview, by name.

    Read through the reverse relation so the core does not import the projects app
    (dependencies point one way: products → projects → console).
    """
    return organization.projects.order_by("name", "created")
