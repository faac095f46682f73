"""Reads of projects, always scoped to the requesting user's memberships."""

from __future__ import annotations

import uuid

from django.http import Http404

from console.models import Membership, User
from console.selectors import membership_for_user
from projects.models import Project


def project_for_user(
    *, user: User, organization_slug: str, project_id: uuid.UUID
) -> tuple[Membership, Project]:
    """The user's membership and the project, fetched within that membership's organization.

    Http404 when the user is not a member or the project belongs to another organization.
    """
    membership = membership_for_user(user=user, organization_slug=organization_slug)
    try:
        project = Project.objects.get(pk=project_id, organization=membership.organization)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    return membership, project
