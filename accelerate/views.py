"""The Accelerate tab of a project: access, configure, instructions, edit, disable and enable."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accelerate import selectors, services
from accelerate.forms import AUTOMATIC, AccelerateConfigForm, region_for
from accelerate.models import AccelerateConfig
from console.access import product_access_granted, product_access_request, product_access_request_for
from console.audit import Actor
from console.demo import demo_database_url
from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action, can
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import form_errors_add, modal_done, render_form
from projects.models import ApiKey, Project
from projects.services import api_key_generate
from projects.view_helpers import project_context, project_scope
from userdb.connection_strings import InvalidConnectionString, parse
from userdb.regions import GATEWAY_REGION_NAME, region_name, region_recommend

PRODUCT = services.PRODUCT
API_KEY_PLACEHOLDER = "__API_KEY__"


def _configured(project: Project) -> AccelerateConfig:
    config = selectors.accelerate_config_for_project(project=project)
    if config is None:
        raise Http404("Accelerate is not configured for this project.")
    return config


def _gateway_region_label() -> str:
    """The gateway's region's readable name ("Europe (Ireland)"), or "" when it has none."""
    name = region_name(settings.GATEWAY_REGION)
    return "" if name in (settings.GATEWAY_REGION, GATEWAY_REGION_NAME) else name


def _form_context(*, action: str, submit_label: str, editing: bool) -> dict[str, Any]:
    """What the configuration form (accelerate/_config_form.html) needs besides the form."""
    return {
        "action": action,
        "submit_label": submit_label,
        "editing": editing,
        # In the embedded mode there is a demo database to offer (console/demo.py).
        "demo_database": settings.EMBEDDED,
    }


def _tab_context(
    request: AuthenticatedRequest,
    membership: Membership,
    project: Project,
    *,
    form: AccelerateConfigForm | None = None,
    new_key: tuple[ApiKey, str] | None = None,
) -> dict[str, Any]:
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
        # The snippets carry the key just generated (shown this once), or the placeholder.
        key = new_key[1] if new_key else API_KEY_PLACEHOLDER
        context.update(
            region_label=region_name(config.region),
            gateway_region=settings.GATEWAY_REGION,
            gateway_region_label=_gateway_region_label(),
            accelerate_url=f"prisma://{host}/?api_key={key}",
            api_key_value=key,
            new_api_key=new_key[0] if new_key else None,
            http_base=selectors.accelerate_http_base(host=host),
            api_key_count=selectors.project_api_key_count(project=project),
        )
    elif has_access:
        if can(membership, Action.CONFIGURE_PRODUCTS):
            context["form"] = form or AccelerateConfigForm()
            context.update(
                _form_context(
                    action=reverse("accelerate:configure", args=[project.organization.slug, project.pk]),
                    submit_label="Configure Accelerate",
                    editing=False,
                )
            )
    else:
        context["access_request"] = product_access_request_for(
            organization=project.organization, product=PRODUCT
        )
    return context


@require_GET
@login_required
def accelerate_tab(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    membership, project = project_scope(request, organization_slug, project_id)
    return render(request, "accelerate/tab.html", _tab_context(request, membership, project))


@sensitive_variables("data")
def _config_arguments(form: AccelerateConfigForm) -> dict[str, Any]:
    """The service's arguments from a valid form; with "Use the demo database", the demo's
    connection string (and the region its host recommends, unless one was chosen)."""
    data = form.cleaned_data
    connection_string, region = data["connection_string"], data["region"]
    if data["use_demo_database"]:
        demo = demo_database_url()
        if demo is None:
            raise ValidationError(
                {"connection_string": "There is no demo database here: it exists in the embedded mode only."}
            )
        connection_string = demo
        if not form.editing:
            region = region_for(demo, form.chosen_region)
    return {
        "connection_string": connection_string,
        "region": region,
        "connection_limit": data["connection_limit"],
        "pool_timeout_seconds": data["pool_timeout_seconds"],
        "query_timeout_seconds": data["query_timeout_seconds"],
        "response_size_limit_mb": data["response_size_limit_mb"],
    }


def _configure_with(
    request: AuthenticatedRequest,
    project: Project,
    form: AccelerateConfigForm,
    *,
    config: AccelerateConfig | None = None,
) -> RateLimited | None:
    """Create the configuration (or update ``config``) from a valid form; errors go onto the form;
    the refusal if over the rate limit."""
    try:
        arguments = _config_arguments(form)
        if arguments["connection_string"]:  # a database is checked by connecting: limited per user
            rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
        actor = Actor.from_request(request)
        if config is None:
            services.accelerate_create(project=project, actor=actor, **arguments)
        else:
            services.accelerate_update(config=config, actor=actor, **arguments)
    except RateLimited as limited:
        form.add_error(None, limited.message)
        return limited
    except ValidationError as error:
        form_errors_add(form, error)
    return None


@never_cache  # an answer with errors carries back what the user typed
@require_POST
@login_required
@sensitive_post_parameters("connection_string")
def accelerate_configure(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Configure Accelerate: the tab's form posts here; errors come back on the form with the input kept."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    if selectors.accelerate_config_for_project(project=project) is not None:
        return redirect("accelerate:edit", organization_slug=organization_slug, project_id=project_id)
    form = AccelerateConfigForm(request.POST)
    limited = None
    if form.is_valid():
        limited = _configure_with(request, project, form)
        if limited is None and form.is_valid():
            return modal_done(
                request,
                reverse("accelerate:tab", args=[organization_slug, project_id]),
                "Accelerate is configured. Use the connection string below in your application.",
            )
    context = _tab_context(request, membership, project, form=form)
    response = render_form(request, "accelerate/tab.html", "config-form", context)
    return limited.respond(response) if limited else response


@never_cache  # an answer with errors carries back what the user typed
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
    limited = None
    if request.method == "POST":
        form = AccelerateConfigForm(request.POST, editing=True, initial=initial)
        if form.is_valid():
            limited = _configure_with(request, project, form, config=config)
            if limited is None and form.is_valid():
                return modal_done(
                    request,
                    reverse("accelerate:tab", args=[organization_slug, project_id]),
                    "The Accelerate settings are saved.",
                )
    else:
        form = AccelerateConfigForm(editing=True, initial=initial)
    context = {
        **project_context(membership, project, tab="accelerate"),
        "config": config,
        "form": form,
        **_form_context(
            action=reverse("accelerate:edit", args=[organization_slug, project_id]),
            submit_label="Save",
            editing=True,
        ),
    }
    response = render_form(request, "accelerate/edit.html", "config-form", context)
    return limited.respond(response) if limited else response


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


@never_cache  # the answer holds the new key
@sensitive_variables("raw_key", "new_key")
@require_POST
@login_required
def accelerate_api_key_generate(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """ "Generate API key": a new key, shown once, filled into every snippet of the tab."""
    membership, project = project_scope(request, organization_slug, project_id, action=Action.MANAGE_API_KEYS)
    config = _configured(project)
    if not config.enabled:
        return redirect("accelerate:tab", organization_slug=organization_slug, project_id=project_id)
    try:
        rate_limit_consume(name="api_key_create", identity=f"user:{request.user.pk}")
    except RateLimited as limited:
        messages.error(request, limited.message)
        context = _tab_context(request, membership, project)
        return limited.respond(render_snippets(request, context))
    api_key, raw_key = api_key_generate(
        project=project, purpose="Accelerate key", actor=Actor.from_request(request)
    )
    new_key = (api_key, raw_key)
    return render_snippets(request, _tab_context(request, membership, project, new_key=new_key))


def render_snippets(request: AuthenticatedRequest, context: dict[str, Any]) -> HttpResponse:
    """The tab, or for htmx only its snippets (which the Generate API key button replaces)."""
    template = "accelerate/tab.html"
    return render(request, f"{template}#snippets" if request.htmx else template, context)


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
