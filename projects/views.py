from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from console.audit import Actor
from console.http import AuthenticatedRequest
from console.permissions import Action, require
from console.products import product_get, products_health
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import form_errors_add, modal_done, organization_scope, page_context, render_form
from console.views import LAST_ORGANIZATION_SESSION_KEY
from projects import selectors, services
from projects.forms import ApiKeyCreateForm, ProjectDeleteForm, ProjectNameForm
from projects.view_helpers import project_context, project_scope
from usage.selectors import RecentUsage, usage_last_24_hours_by_project

# Pages stay fast however many projects an organization has (bench/project_pages.py).
OVERVIEW_PAGE_SIZE = 50


@require_GET
@login_required
def organization_overview(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    membership = organization_scope(request, organization_slug)
    request.session[LAST_ORGANIZATION_SESSION_KEY] = organization_slug
    projects = Paginator(
        selectors.organization_projects(organization=membership.organization), OVERVIEW_PAGE_SIZE
    ).get_page(request.GET.get("page"))
    # One query for the whole page: each project's queries and events in the last 24 hours.
    recent = usage_last_24_hours_by_project(
        organization=membership.organization, project_ids=[project.pk for project in projects]
    )
    return render(
        request,
        "projects/overview.html",
        {
            "membership": membership,
            "organization": membership.organization,
            "projects": projects,
            # Each product's health as kept from a recent check (cache reads only; the badges
            # ask for a live check after the page has loaded when none was kept).
            "project_rows": [
                (project, recent.get(project.pk, RecentUsage()), products_health(project=project))
                for project in projects
            ],
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def project_create(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """ "New project" on the Overview: a dialog asking for a name."""
    membership = organization_scope(request, organization_slug, action=Action.CREATE_PROJECT)
    organization = membership.organization
    form = ProjectNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                organization=organization, name=form.cleaned_data["name"], actor=Actor.from_request(request)
            )
        except ValidationError as error:
            form_errors_add(form, error)
        else:
            url = reverse("projects:dashboard", args=[organization.slug, project.pk])
            return modal_done(request, url, f"Project “{project.name}” created.")
    context = page_context(membership, form=form)
    return render_form(request, "projects/project_create.html", "project-create-form", context)


@require_GET
@login_required
def project_dashboard(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_scope(request, organization_slug, project_id)
    state = selectors.project_product_state(project=project)
    return render(
        request, "projects/dashboard.html", project_context(membership, project, tab="dashboard", state=state)
    )


@require_GET
@login_required
def project_product_health(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID, product: str
) -> HttpResponse:
    """One product's health badge, checked live (the Dashboard and the Overview ask for it after
    the page has loaded, when no recent answer was kept: page loads stay cheap)."""
    membership, project = project_scope(request, organization_slug, project_id)
    try:
        health = selectors.project_health(project=project, product=product, live=True)
    except ValueError:
        raise Http404("No such product.") from None
    context = project_context(
        membership,
        project,
        product=product,
        product_name=product_get(product).name,
        health=health,
        named=request.GET.get("named") == "1",
    )
    return render(request, "projects/_product_health.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def project_settings(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Settings → General: rename (admins and owners), and the way to "Delete project". A rename
    shows the page anew (the name is in the title, the breadcrumb and the heading)."""
    membership, project = project_scope(request, organization_slug, project_id)
    if request.method == "POST":
        require(membership, Action.MANAGE_PROJECT)
        form = ProjectNameForm(request.POST)
        if form.is_valid():
            try:
                services.project_rename(
                    project=project, name=form.cleaned_data["name"], actor=Actor.from_request(request)
                )
            except ValidationError as error:
                form_errors_add(form, error)
            else:
                url = reverse("projects:settings", args=[organization_slug, project.pk])
                return modal_done(request, url, "Project name updated.")
    else:
        form = ProjectNameForm(initial={"name": project.name})
    context = project_context(membership, project, tab="settings", subtab="general", form=form)
    return render_form(request, "projects/settings_general.html", "general-form", context)


@require_http_methods(["GET", "POST"])
@login_required
def project_delete(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The "Delete project" confirmation: the user types the project's name."""
    membership, project = project_scope(request, organization_slug, project_id, action=Action.MANAGE_PROJECT)
    form = ProjectDeleteForm(request.POST or None, project_name=project.name)
    if request.method == "POST" and form.is_valid():
        name = project.name
        leftovers = services.project_delete(project=project, actor=Actor.from_request(request))
        messages.success(request, f"Project “{name}” and its API keys were deleted.")
        for leftover in leftovers:
            messages.warning(request, leftover)
        return modal_done(request, reverse("organization_overview", args=[organization_slug]))
    context = project_context(membership, project, form=form)
    return render_form(request, "projects/project_delete.html", "project-delete-form", context)


@require_GET
@login_required
def project_api_keys(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Settings → Project API keys: the table; htmx asks for just the table to refresh it."""
    membership, project = project_scope(request, organization_slug, project_id)
    context = project_context(
        membership,
        project,
        tab="settings",
        subtab="api_keys",
        api_keys=selectors.project_api_keys(project=project),
    )
    template = "projects/settings_api_keys.html"
    return render(request, f"{template}#keys-table" if request.htmx else template, context)


@never_cache  # the answer to the POST holds the key
@sensitive_variables("raw_key")
@require_http_methods(["GET", "POST"])
@login_required
def api_key_create(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """ "New API Key": a name (and expiry); "Create API Key" then shows the key, once, in the same dialog."""
    membership, project = project_scope(request, organization_slug, project_id, action=Action.MANAGE_API_KEYS)
    form = ApiKeyCreateForm(request.POST or None)
    raw_key = None
    api_key = None
    limited = None
    if request.method == "POST" and form.is_valid():
        try:
            rate_limit_consume(name="api_key_create", identity=f"user:{request.user.pk}")
            api_key, raw_key = services.api_key_create(
                project=project,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                actor=Actor.from_request(request),
            )
        except RateLimited as refused:
            limited = refused
            form.add_error(None, refused.message)
        except ValidationError as error:
            form_errors_add(form, error)
    context = project_context(membership, project, form=form, raw_key=raw_key, api_key=api_key)
    if request.htmx and request.method == "POST":
        response = render(request, "projects/api_key_create.html#api-key-dialog", context)
        if raw_key is not None:
            trigger_client_event(response, "apiKeyCreated")
    else:
        response = render(request, "projects/api_key_create.html", context)
    return limited.respond(response) if limited else response


@require_http_methods(["GET", "POST"])
@login_required
def api_key_delete(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID, api_key_id: int
) -> HttpResponse:
    """The trash can's confirmation: "Remove API key"."""
    membership, project = project_scope(request, organization_slug, project_id, action=Action.MANAGE_API_KEYS)
    if request.method == "GET":
        api_key = selectors.api_key_for_project(project=project, api_key_id=api_key_id)
        return render(
            request, "projects/api_key_delete.html", project_context(membership, project, api_key=api_key)
        )
    try:
        api_key = selectors.api_key_for_project(project=project, api_key_id=api_key_id)
    except Http404:
        # A second submit of the same confirmation: the key is gone, which is what was asked.
        notice = "That API key had already been removed."
    else:
        services.api_key_delete(api_key=api_key, actor=Actor.from_request(request))
        notice = f"API key “{api_key.name}” removed. Applications using it can no longer connect."
    return modal_done(request, reverse("projects:api_keys", args=[organization_slug, project.pk]), notice)
