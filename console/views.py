from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import selectors, services
from console.audit import Actor
from console.forms import OrganizationCreateForm, OrganizationDeleteForm, OrganizationRenameForm
from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action
from console.view_helpers import form_errors_add, modal_done, organization_scope, page_context

LAST_ORGANIZATION_SESSION_KEY = "organization"


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


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """Log out (a POST, so no link elsewhere can do it) and say so on the login page."""
    logout(request)
    messages.success(request, "You are logged out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


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


@require_http_methods(["GET", "POST"])
@login_required
def organization_settings(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Settings › General: the name (admins rename it), leaving, and deletion for owners."""
    membership = organization_scope(
        request, organization_slug, action=Action.MANAGE_ORGANIZATION if request.method == "POST" else None
    )
    organization = membership.organization
    form = OrganizationRenameForm(request.POST or None, initial={"name": organization.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.organization_rename(
                organization=organization, name=form.cleaned_data["name"], actor=Actor.from_request(request)
            )
        except ValidationError as error:
            form_errors_add(form, error)
        else:
            messages.success(request, f"Organization renamed to “{organization.name}”.")
            return redirect("organization_settings", organization_slug=organization.slug)
    return render(
        request,
        "console/organization_settings.html",
        {
            **settings_context(membership, "general"),
            "form": form,
            "owner_count": selectors.organization_owner_count(organization=organization),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def organization_delete(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """The typed-name confirmation (a dialog, or a page without JavaScript), then the deletion."""
    membership = organization_scope(request, organization_slug, action=Action.DELETE_ORGANIZATION)
    organization = membership.organization
    form = OrganizationDeleteForm(request.POST or None, organization_name=organization.name)
    if request.method == "POST" and form.is_valid():
        name = organization.name
        try:
            leftovers = services.organization_delete(
                organization=organization,
                confirm_name=form.cleaned_data["confirm_name"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            form_errors_add(form, error)
        else:
            request.session.pop(LAST_ORGANIZATION_SESSION_KEY, None)
            messages.success(request, f"Organization “{name}” and everything in it was deleted.")
            for leftover in leftovers:
                messages.warning(request, leftover)
            return modal_done(request, reverse("home"))
    return render(
        request,
        "console/organization_delete.html",
        {**settings_context(membership, "general"), "form": form},
    )


@require_GET
@login_required
def organization_audit_log(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Settings › Audit log: newest first, filtered by action and actor, one keyset page at a time."""
    membership = organization_scope(request, organization_slug, action=Action.VIEW_AUDIT_LOG)
    organization = membership.organization
    # Filters come from the address bar: PostgreSQL text cannot hold NUL, so it is dropped.
    action = request.GET.get("action", "").replace("\x00", "")
    actor = request.GET.get("actor", "").replace("\x00", "")
    before = selectors.AuditCursor.decode(request.GET.get("before", ""))
    page = selectors.audit_log_page(organization=organization, action=action, actor=actor, before=before)
    next_url = ""
    if page.next_cursor is not None:
        query = {key: value for key, value in (("action", action), ("actor", actor)) if value}
        next_url = "?" + urlencode({**query, "before": page.next_cursor.encode()})
    context = {
        **settings_context(membership, "audit"),
        "events": page.events,
        "next_url": next_url,
        "action": action,
        "actor": actor,
        "paged": before is not None,
    }
    if request.htmx and before is not None:
        # "Load more": only the next rows and the next "Load more" row.
        return render(request, "console/organization_audit_log.html#audit-rows", context)
    context["actions"], context["actors"] = selectors.audit_filter_choices(organization=organization)
    return render(request, "console/organization_audit_log.html", context)


def settings_context(membership: Membership, tab: str) -> dict[str, Any]:
    """What every Settings page shows: the sidebar's section and which sub-tab is current."""
    return page_context(membership, section="settings", tab=tab)
