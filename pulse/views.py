from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.access import product_access_request
from console.audit import Actor
from console.demo import demo_database_url
from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import modal_done
from projects.models import ApiKey, Project
from projects.services import api_key_generate
from projects.view_helpers import project_context, project_scope
from pulse import selectors, services
from pulse.demo import DEMO_TABLES
from pulse.forms import PulseDatabaseForm, PulseEnableForm
from pulse.leftovers import pulse_leftover_recheck
from pulse.models import PulseConfig, PulseLeftoverSlot
from pulse.readiness import Readiness, readiness_check
from userdb.connection_strings import ConnectionStringError, parse
from userdb.regions import region_name, region_recommend

API_KEY_PLACEHOLDER = "__API_KEY__"


def _context(membership: Membership, project: Project, **extra: Any) -> dict[str, Any]:
    config = selectors.pulse_config_for_project(project=project)
    leftovers = selectors.pulse_leftovers_for_project(project=project)
    return project_context(
        membership,
        project,
        tab="pulse",
        config=config,
        enabled=config is not None and config.enabled,
        access=selectors.pulse_access_granted(membership.organization),
        leftovers=[(leftover, _drop_sql(leftover)) for leftover in leftovers],
        slot_name=services.pulse_slot_name(project),
        # In the embedded mode there is a demo database to offer (console/demo.py).
        demo_database=settings.EMBEDDED,
        **extra,
    )


def _drop_sql(leftover: PulseLeftoverSlot) -> str:
    return selectors.pulse_drop_sql(slot_name=leftover.slot_name, publication_name=leftover.publication_name)


def _stream_context(
    request: AuthenticatedRequest, project: Project, config: PulseConfig, new_key: tuple[ApiKey, str] | None
) -> dict[str, Any]:
    return {
        "stream_url": request.build_absolute_uri("/pulse/v1/stream"),
        "example_table": selectors.pulse_example_model(config=config),
        "has_api_key": project.api_keys.exists(),
        # The snippets carry the key just generated (shown this once), or the placeholder.
        "api_key_value": new_key[1] if new_key else API_KEY_PLACEHOLDER,
        "new_api_key": new_key[0] if new_key else None,
    }


def _tab_context(
    request: AuthenticatedRequest,
    membership: Membership,
    project: Project,
    *,
    new_key: tuple[ApiKey, str] | None = None,
) -> dict[str, Any]:
    """The Pulse tab: the wait list, or the two setup sections, or instructions and live status."""
    context = _context(membership, project)
    if context["enabled"]:
        config = context["config"]
        context.update(_stream_context(request, project, config, new_key))
        context["status"] = selectors.pulse_slot_status(config=config)
        context["recent_events"] = selectors.pulse_recent_events(project=project)
        context["last_captured_at"] = selectors.pulse_last_captured_at(config=config)
    elif context["access"]:
        config = context["config"]
        initial = {"region": config.region, "tables": ", ".join(config.tables)} if config else {}
        context["form"] = PulseEnableForm(initial=initial)
    else:
        access_request = selectors.pulse_waitlist_request(organization=membership.organization)
        context["waitlist_request"] = access_request
        context["waitlist_position"] = (
            selectors.pulse_waitlist_position(access_request=access_request) if access_request else None
        )
    return context


@require_GET
@login_required
def pulse_tab(request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID) -> HttpResponse:
    """The Pulse tab: the wait list, or the two setup sections, or instructions and live status."""
    membership, project = project_scope(request, organization_slug, project_id)
    return render(request, "pulse/tab.html", _tab_context(request, membership, project))


@sensitive_variables("form")
def _database_of(form: PulseDatabaseForm) -> tuple[str, list[str]]:
    """The connection string and tables a valid form names: what was typed, or with "Use the demo
    database" the demo's (and its tables, unless some were typed). PulseError if malformed."""
    tables = services.pulse_tables_clean(form.cleaned_data["tables"])
    if not form.cleaned_data["use_demo_database"]:
        return form.cleaned_data["connection_string"], tables
    demo = demo_database_url()
    if demo is None:
        raise services.PulseError("There is no demo database here: it exists in the embedded mode only.")
    return demo, tables or list(DEMO_TABLES)


def _readiness_for(form: PulseDatabaseForm, project: Project) -> Readiness | None:
    if not form.is_valid():
        return None
    try:
        services.pulse_tables_clean(form.cleaned_data["tables"])
    except services.PulseError as error:
        form.add_error("tables", error.message)
        return None
    try:
        connection_string, tables = _database_of(form)
    except services.PulseError as error:
        form.add_error(None, error.message)
        return None
    name = services.pulse_slot_name(project)
    return readiness_check(
        connection_string=connection_string,
        slot_name=name,
        publication_name=name,
        tables=tables,
    )


def _recommendation(form: PulseDatabaseForm) -> str:
    try:
        host = parse(form.cleaned_data.get("connection_string", "")).host
    except ConnectionStringError:
        return ""
    recommendation = region_recommend(host)
    return recommendation.reason if recommendation else ""


@never_cache  # the answer carries back what the user typed
@sensitive_variables("form")
@sensitive_post_parameters("connection_string")
@require_POST
@login_required
def pulse_check(request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID) -> HttpResponse:
    """Run the readiness checklist live ("Check database"); htmx swaps the checklist in place."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    if not selectors.pulse_access_granted(membership.organization):
        raise Http404("Pulse is not available to this organization yet.")
    form = PulseEnableForm(request.POST)
    form.fields["region"].required = False
    limited = None
    try:
        # Each check connects to the database the user names: limited per user.
        rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
    except RateLimited as refused:
        limited = refused
        readiness = None
    else:
        readiness = _readiness_for(form, project)
    context = _context(
        membership,
        project,
        form=form,
        readiness=readiness,
        recommendation=_recommendation(form) if limited is None and form.is_valid() else "",
        checked=True,
        limited=limited.message if limited else "",
    )
    if request.htmx:
        response = render(request, "pulse/tab.html#readiness", {**context, "oob": True})
    else:
        response = render(request, "pulse/tab.html", context)
    return limited.respond(response) if limited else response


@never_cache  # an answer with errors carries back what the user typed
@sensitive_variables("form", "connection_string")
@sensitive_post_parameters("connection_string")
@require_POST
@login_required
def pulse_enable(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Enable Pulse: check, create the publication and slot, store the configuration."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    if not selectors.pulse_access_granted(membership.organization):
        raise Http404("Pulse is not available to this organization yet.")
    form = PulseEnableForm(request.POST)
    readiness = None
    limited = None
    if form.is_valid():
        try:
            rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
            connection_string, tables = _database_of(form)
            services.pulse_enable(
                project=project,
                connection_string=connection_string,
                region=form.cleaned_data["region"],
                tables=tables,
                actor=Actor.from_request(request),
            )
        except RateLimited as refused:
            limited = refused
            form.add_error(None, refused.message)
        except services.PulseError as error:
            readiness = error.readiness
            form.add_error(
                None,
                error.message
                if readiness is None
                else "The database is not ready for Pulse: fix the failing checks below, then enable again.",
            )
        else:
            return modal_done(
                request, _tab_url(organization_slug, project), "Pulse is enabled for this project."
            )
    context = _context(membership, project, form=form, readiness=readiness, checked=readiness is not None)
    if request.htmx:  # the form swaps itself, errors and checklist included
        response = render(request, "pulse/tab.html#setup-form", context)
    else:
        response = render(request, "pulse/tab.html", context, status=400)
    return limited.respond(response) if limited else response


@never_cache  # the answer holds the new key
@sensitive_variables("new_key")
@require_POST
@login_required
def pulse_api_key_generate(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """ "Generate API key": a new key, shown once, filled into every snippet of the tab."""
    membership, project = project_scope(request, organization_slug, project_id, action=Action.MANAGE_API_KEYS)
    config = selectors.pulse_config_for_project(project=project)
    if config is None or not config.enabled:
        return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    new_key = None
    limited = None
    try:
        rate_limit_consume(name="api_key_create", identity=f"user:{request.user.pk}")
    except RateLimited as refused:
        limited = refused
        messages.error(request, refused.message)
    else:
        new_key = api_key_generate(project=project, purpose="Pulse key", actor=Actor.from_request(request))
    context = _tab_context(request, membership, project, new_key=new_key)
    template = "pulse/tab.html"
    response = render(request, f"{template}#snippets" if request.htmx else template, context)
    return limited.respond(response) if limited else response


@require_GET
@login_required
def pulse_status(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The slot's live status (replication lag, last capture); the tab polls it."""
    membership, project = project_scope(request, organization_slug, project_id)
    config = selectors.pulse_config_for_project(project=project)
    if not request.htmx or config is None or not config.enabled:
        return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    context = _context(
        membership,
        project,
        status=selectors.pulse_slot_status(config=config),
        last_captured_at=selectors.pulse_last_captured_at(config=config),
    )
    return render(request, "pulse/tab.html#status", context)


@require_GET
@login_required
def pulse_events(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The live tail: the latest captured events; the tab polls it every two seconds."""
    membership, project = project_scope(request, organization_slug, project_id)
    config = selectors.pulse_config_for_project(project=project)
    if not request.htmx or config is None or not config.enabled:
        return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    # The status's "Last change captured" comes along (out of band): it never lags the events shown.
    context = _context(
        membership,
        project,
        recent_events=selectors.pulse_recent_events(project=project),
        last_captured_at=selectors.pulse_last_captured_at(config=config),
        oob=True,
    )
    return render(request, "pulse/tab.html#events", context)


@require_GET
@login_required
def pulse_settings(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Pulse → Settings: what is configured, and Disable Pulse."""
    membership, project = project_scope(request, organization_slug, project_id)
    context = _context(membership, project, subtab="settings")
    if not context["enabled"]:
        return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    context["region_name"] = region_name(context["config"].region)
    return render(request, "pulse/settings.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def pulse_disable(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """The Disable Pulse dialog (the SQL to drop the slot and publication), and disabling."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    config = selectors.pulse_config_for_project(project=project)
    if config is None or not config.enabled:
        return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    if request.method == "POST":
        result = services.pulse_disable(project=project, actor=Actor.from_request(request))
        level = messages.SUCCESS if result.dropped else messages.WARNING
        return modal_done(request, _tab_url(organization_slug, project), result.message, level=level)
    context = _context(
        membership,
        project,
        drop_sql=selectors.pulse_drop_sql(
            slot_name=config.slot_name, publication_name=config.publication_name
        ),
    )
    return render(request, "pulse/disable.html", context)


def _tab_url(organization_slug: str, project: Project) -> str:
    return reverse("pulse:tab", kwargs={"organization_slug": organization_slug, "project_id": project.pk})


@require_POST
@login_required
def pulse_leftovers_check(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """ "Check again" (also run when the tab opens): drop the project's leftover slots if the database
    answers, or confirm they are gone."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    actor = Actor.from_request(request)
    for leftover in selectors.pulse_leftovers_for_project(project=project):
        gone = pulse_leftover_recheck(leftover=leftover, actor=actor)
        if request.htmx:
            continue
        if gone:
            messages.success(
                request, f"The replication slot {leftover.slot_name} is gone from your database."
            )
        else:
            messages.warning(
                request, f"The replication slot {leftover.slot_name} may still exist: {leftover.last_error}"
            )
    if request.htmx:
        return render(request, "pulse/tab.html#leftovers", _context(membership, project, rechecked=True))
    return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)


@require_POST
@login_required
def pulse_waitlist_join(
    request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID
) -> HttpResponse:
    """Join the Pulse wait list for the organization."""
    membership, project = project_scope(
        request, organization_slug, project_id, action=Action.CONFIGURE_PRODUCTS
    )
    product_access_request(
        organization=membership.organization, product=selectors.PRODUCT, actor=Actor.from_request(request)
    )
    messages.success(request, "Your organization is on the Pulse wait list.")
    return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
