from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from console.http import AuthenticatedRequest
from projects.selectors import project_for_user


@require_GET
@login_required
def project_dashboard(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_for_user(
        user=request.user,
        organization_slug=organization_slug,
        project_id=project_id,
    )
    return render(
        request,
        "projects/dashboard.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "project": project,
            "tab": "dashboard",
        },
    )
