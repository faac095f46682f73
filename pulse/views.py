from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.access import product_access_request
from console.audit import Actor
from console.http import AuthenticatedRequest
from console.models import Membership
from console.permissions import Action
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import modal_done
from projects.models import Project
from projects.view_helpers import project_context, project_scope
from pulse import selectors, services
from pulse.forms import PulseDatabaseForm, PulseEnableForm
from pulse.leftovers import pulse_leftover_recheck
from pulse.models import PulseLeftoverSlot
from pulse.readiness import Readiness, readiness_check
from userdb.connection_strings import ConnectionStringError, parse
from userdb.regions import region_name, region_recommend


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
        **extra,
    )


def _drop_sql(leftover: PulseLeftoverSlot) -> str:
    return selectors.pulse_drop_sql(slot_name=leftover.slot_name, publication_name=leftover.publication_name)


def _stream_context(request: AuthenticatedRequest, project: Project) -> dict[str, Any]:
    config = selectors.pulse_config_for_project(project=project)
    example_table = config.tables[0].split(".", 1)[1] if config and config.tables else "orders"
    return {
        "stream_url": request.build_absolute_uri("/pulse/v1/stream"),
        "example_table": example_table,
        "has_api_key": _has_api_key(project),
    }


def _has_api_key(project: Project) -> bool:
    return project.api_keys.exists()


@require_GET
@login_required
def pulse_tab(request: AuthenticatedRequest, organization_slug: str, project_id: uuid.UUID) -> HttpResponse:
    """The Pulse tab: the wait list, or the two setup sections, or instructions and live status."""
    membership, project = project_scope(request, organization_slug, project_id)
    context = _context(membership, project)
    if context["enabled"]:
        context.update(_stream_context(request, project))
        context["status"] = selectors.pulse_slot_status(config=context["config"])
        context["recent_events"] = selectors.pulse_recent_events(project=project)
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
    return render(request, "pulse/tab.html", context)


def _readiness_for(form: PulseDatabaseForm, project: Project) -> Readiness | None:
    if not form.is_valid():
        return None
    try:
        tables = services.pulse_tables_clean(form.cleaned_data["tables"])
    except services.PulseError as error:
        form.add_error("tables", error.message)
        return None
    name = services.pulse_slot_name(project)
    return readiness_check(
        connection_string=form.cleaned_data["connection_string"],
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
        recommendation=_recommendation(form) if limited is None else "",
        checked=True,
        limited=limited.message if limited else "",
    )
    if request.htmx:
        response = render(request, "pulse/tab.html#readiness", {**context, "oob": True})
    else:
        response = render(request, "pulse/tab.html", context)
    return limited.respond(response) if limited else response


@sensitive_variables("form")
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
    if form.is_valid():
        try:
            rate_limit_consume(name="database_check", identity=f"user:{request.user.pk}")
        except RateLimited as limited:
            form.add_error(None, limited.message)
            return limited.respond(
                render(request, "pulse/tab.html", _context(membership, project, form=form))
            )
        try:
            services.pulse_enable(
                project=project,
                connection_string=form.cleaned_data["connection_string"],
                region=form.cleaned_data["region"],
                tables=services.pulse_tables_clean(form.cleaned_data["tables"]),
                actor=Actor.from_request(request),
            )
        except services.PulseError as error:
            readiness = error.readiness
            form.add_error(
                None,
                error.message
                if readiness is None
                else "The database is not ready for Pulse: fix the failing checks below, then enable again.",
            )
        else:
            messages.success(request, "Pulse is enabled for this project.")
            return redirect("pulse:tab", organization_slug=organization_slug, project_id=project.pk)
    context = _context(membership, project, form=form, readiness=readiness, checked=readiness is not None)
    return render(request, "pulse/tab.html", context, status=400)


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
    context = _context(membership, project, status=selectors.pulse_slot_status(config=config))
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
    context = _context(membership, project, recent_events=selectors.pulse_recent_events(project=project))
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
