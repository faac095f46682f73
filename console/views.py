from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import selectors, services, throttling
from console.audit import Actor, client_ip
from console.forms import (
    OrganizationCreateForm,
    OrganizationDeleteForm,
    OrganizationRenameForm,
    PasswordResetRequestForm,
    ThrottledAuthenticationForm,
)
from console.http import AuthenticatedRequest
from console.models import Membership, User
from console.permissions import Action
from console.ratelimit import RateLimited
from console.throttling import duration_words
from console.view_helpers import form_errors_add, modal_done, organization_scope, page_context

LAST_ORGANIZATION_SESSION_KEY = "organization"


class LoginView(auth_views.LoginView):
    """Django's login page under the throttling rule; a refused attempt is answered 429 with
    ``Retry-After``, and the form says how long to wait."""

    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.refused is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.refused.retry_after)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """The "Forgot password?" page, Django's view: requests are limited per recipient and per client
    address (429 with the message in the form), counted alike whether the address has an account."""

    form_class = PasswordResetRequestForm
    email_template_name = "registration/password_reset_email.txt"

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        return {"valid_for": duration_words(settings.PASSWORD_RESET_TIMEOUT)}

    def form_valid(self, form: PasswordResetRequestForm) -> HttpResponse:  # type: ignore[override]
        try:
            services.account_email_throttle(
                email=form.cleaned_data["email"], ip_address=client_ip(self.request)
            )
        except RateLimited as limited:
            form.add_error(None, limited.message)
            return limited.respond(self.form_invalid(form))
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view for the emailed link (single use, expires after ``PASSWORD_RESET_TIMEOUT``).
    Setting a new password proves the mailbox, so it also lifts a sign-in pause on the account."""

    def form_valid(self, form: SetPasswordForm[User]) -> HttpResponse:
        response = super().form_valid(form)
        throttling.login_lockout_lift(email=form.user.email)
        return response


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
