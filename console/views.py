from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from console import selectors, services
from console.audit import Actor
from console.forms import OrganizationCreateForm
from console.http import AuthenticatedRequest

LAST_ORGANIZATION_SESSION_KEY = "organization"
# Pages stay fast however many projects an organization has (bench/project_pages.py).
OVERVIEW_PAGE_SIZE = 50


@require_GET
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Send the user to the organization they used last, or to their first one."""
    memberships = list(selectors.memberships_for_user(user=request.user))
    if not memberships:
        return redirect("organization_create")
    last = request.session.get(LAST_ORGANIZATION_SESSION_KEY)
    chosen = next((m for m in memberships if m.organization.slug == last), memberships[0])
    return redirect("organization_overview", organization_slug=chosen.organization.slug)


@require_http_methods(["GET", "POST"])
@login_required
def organization_create(request: AuthenticatedRequest) -> HttpResponse:
    form = OrganizationCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(
                name=form.cleaned_data["name"],
                slug=form.cleaned_data["slug"] or None,
                owner=request.user,
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Organization “{organization.name}” created. You are its owner.")
            return redirect("organization_overview", organization_slug=organization.slug)
    return render(request, "console/organization_create.html", {"form": form})


@require_GET
@login_required
def organization_overview(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    membership = selectors.membership_for_user(user=request.user, organization_slug=organization_slug)
    request.session[LAST_ORGANIZATION_SESSION_KEY] = organization_slug
    projects = Paginator(
        selectors.organization_projects(organization=membership.organization), OVERVIEW_PAGE_SIZE
    )
    return render(
        request,
        "console/overview.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "projects": projects.get_page(request.GET.get("page")),
        },
    )


@require_GET
@login_required
def organization_settings(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    membership = selectors.membership_for_user(user=request.user, organization_slug=organization_slug)
    organization = membership.organization
    return render(
        request,
        "console/organization_settings.html",
        {
            "membership": membership,
            "organization": organization,
            "members": selectors.organization_members(organization=organization),
        },
    )
