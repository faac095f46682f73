"""The console's view helpers (console/view_helpers.py) for pages of one project: the products'
tabs use them too."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action, require
from console.view_helpers import page_context
from projects.models import Project
from projects.selectors import project_for_user


def project_scope(
    request: AuthenticatedRequest,
    organization_slug: str,
    project_id: uuid.UUID,
    *,
    action: Action | None = None,
) -> tuple[Membership, Project]:
    """The user's membership and the project, fetched within that membership's organization (404
    for anyone else); 403 if ``action`` is named and the role does not allow it."""
    membership, project = project_for_user(
        user=request.user, organization_slug=organization_slug, project_id=project_id
    )
    if action is not None:
        require(membership, action)
    return membership, project


def project_context(membership: Membership, project: Project, **extra: Any) -> dict[str, Any]:
    """What every page of a project gets; ``tab`` says which of its tabs is current."""
    return page_context(membership, project=project, now=timezone.now(), **extra)
