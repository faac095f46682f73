"""The Accelerate tab of a project: access, configure, instructions, edit, disable and enable."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accelerate import selectors, services
from accelerate.forms import AUTOMATIC, AccelerateConfigForm
from accelerate.models import AccelerateConfig
from console.access import product_access_granted, product_access_request, product_access_request_for
from console.audit import Actor
from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action, can
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import modal_done
from projects.models import Project
from projects.view_helpers import project_context, project_scope
from userdb.connection_strings import InvalidConnectionString, parse
from userdb.regions import region_name, region_recommend

PRODUCT = services.PRODUCT


def _configured(project: Project) -> AccelerateConfig:
    config = selectors.accelerate_config_for_project(project=project)
    if config is None:
        raise Http404("Accelerate is not configured for this project.")
    return config


def _render_tab(
    request: AuthenticatedRequest,
    membership: Membership,
    project: Project,
    *,
    form: AccelerateConfigForm | None = None,
) -> HttpResponse:
    config = selectors.accelerate_config_for_project(project=project)
    has_access = config is not None or product_access_granted(
        organization=project.organization, product=PRODUCT
    )
    context = {
        **project_context(membership, project, tab="accelerate"),
        "config": config,
        "has_access": has_access,
    }
    if config is not None:
        host = selectors.accelerate_public_host(request=request)
        context.update(
            region_label=region_name(config.region),
            accelerate_url=f"prisma://{host}/?api_key=__API_KEY__",
            http_base=selectors.accelerate_http_base(host=host),
            api_key_count=selectors.project_api_key_count(project=project),
        )
    elif has_access:
        if can(membership, Action.CONFIGURE_PRODUCTS):
            context["form"] = form or AccelerateConfigForm()
    else:
        context["access_request"] = product_access_request_for(
            organization=project.organization, product=PRODUCT
        )
    return render(request, "accelerate/tab.html", context)


@require_GET
@login_required
def accelerate_tab(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_scope(request, organization_slug, project_id)
    return _render_tab(request, membership, project)


def _config_arguments(form: AccelerateConfigForm) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "connection_string": data["connection_string"],
        "region": data["region"],
        "connection_limit": data["connection_limit"],
        "pool_timeout_seconds": data["pool_timeout_seconds"],
        "query_timeout_seconds": data["query_timeout_seconds"],
        "response_size_limit_mb": data["response_size_limit_mb"],
    }


@require_POST
@login_required
@sensitive_post_parameters("connection_string")
def accelerate_configure(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Configure Accelerate: the tab's form posts here; errors come back on the tab with the input kept."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    if selectors.accelerate_config_for_project(project=project) is not None:
        return redirect("accelerate:edit", organization_slug=organization_slug, project_id=project_id)
    form = AccelerateConfigForm(request.POST)
    if form.is_valid():
        try:
            # Configuring connects to the database the user names: limited per user.
            rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
            services.accelerate_create(
                project=project, actor=Actor.from_request(request), **_config_arguments(form)
            )
        except RateLimited as limited:
            form.add_error(None, limited.message)
            return limited.respond(_render_tab(request, membership, project, form=form))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, "Accelerate is configured. Use the connection string below in your application."
            )
            return redirect("accelerate:tab", organization_slug=organization_slug, project_id=project_id)
    return _render_tab(request, membership, project, form=form)


@require_http_methods(["GET", "POST"])
@login_required
@sensitive_post_parameters("connection_string")
def accelerate_edit(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Change the database, region or limits; an empty connection string keeps the current database."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    config = _configured(project)
    initial = {
        "region": config.region,
        "connection_limit": config.connection_limit,
        "pool_timeout_seconds": config.pool_timeout_seconds,
        "query_timeout_seconds": config.query_timeout_seconds,
        "response_size_limit_mb": config.response_size_limit_mb,
    }
    if request.method == "POST":
        form = AccelerateConfigForm(request.POST, editing=True, initial=initial)
        if form.is_valid():
            try:
                if form.cleaned_data["connection_string"]:  # a new database is checked by connecting
                    rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
                services.accelerate_update(
                    config=config, actor=Actor.from_request(request), **_config_arguments(form)
                )
            except RateLimited as limited:
                form.add_error(None, limited.message)
                context = {
                    **project_context(membership, project, tab="accelerate"),
                    "config": config,
                    "form": form,
                }
                return limited.respond(render(request, "accelerate/edit.html", context))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, "The Accelerate settings are saved.")
                return redirect("accelerate:tab", organization_slug=organization_slug, project_id=project_id)
    else:
        form = AccelerateConfigForm(editing=True, initial=initial)
    return render(
        request,
        "accelerate/edit.html",
        {**project_context(membership, project, tab="accelerate"), "config": config, "form": form},
    )


@require_POST
@login_required
@sensitive_post_parameters("connection_string")
def accelerate_region(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """htmx: the region field, preselecting the region the typed host name reveals, and saying why."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    editing = request.POST.get("editing") == "1"
    try:
        recommendation = region_recommend(parse(request.POST.get("connection_string", "")).host)
    except InvalidConnectionString:
        recommendation = None
    chosen = request.POST.get("region", AUTOMATIC)
    form = AccelerateConfigForm(
        editing=editing, initial={"region": recommendation.region if recommendation else chosen}
    )
    return render(
        request,
        "accelerate/_config_form.html#region-field",
        {
            **project_context(membership, project, tab="accelerate"),
            "form": form,
            "recommendation": recommendation,
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def accelerate_disable(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """GET: the confirmation dialog; POST: disable (the settings are kept for re-enabling)."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    config = _configured(project)
    if request.method == "POST":
        services.accelerate_disable(config=config, actor=Actor.from_request(request))
        return modal_done(
            request,
            reverse("accelerate:tab", args=[organization_slug, project_id]),
            "Accelerate is disabled. Its settings are kept if you enable it again.",
        )
    return render(
        request,
        "accelerate/disable.html",
        {**project_context(membership, project, tab="accelerate"), "config": config},
    )


@require_POST
@login_required
def accelerate_enable(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    services.accelerate_enable(config=_configured(project), actor=Actor.from_request(request))
    messages.success(request, "Accelerate is enabled again with its previous settings.")
    return redirect("accelerate:tab", organization_slug=organization_slug, project_id=project_id)


@require_POST
@login_required
def accelerate_request_access(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    product_access_request(
        organization=project.organization, product=PRODUCT, actor=Actor.from_request(request)
    )
    messages.success(request, "Access to Accelerate is requested. An administrator will review the request.")
    return redirect("accelerate:tab", organization_slug=organization_slug, project_id=project_id)
