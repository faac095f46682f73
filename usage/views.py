"""The organization's Usage section: totals, charts and per-project numbers, and the CSV export.

Each view reads the filters from the query string, asks usage/selectors.py for the numbers
and renders what usage/page.py builds from them.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from console.http import AuthenticatedRequest
from console.view_helpers import organization_scope, page_context
from usage import selectors as usage
from usage.page import UsageFilters, usage_csv, usage_csv_filename, usage_page_context


@require_GET
@login_required
def usage_page(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Usage: every member, viewers included, may read it; nothing on it changes anything."""
    membership = organization_scope(request, organization_slug)
    organization = membership.organization
    project_names = usage.usage_project_names(organization=organization)
    filters = UsageFilters.from_query(request.GET, project_names=project_names)
    report = usage.usage_report(
        organization=organization,
        usage_range=filters.range,
        project_names=project_names,
        project_id=filters.project_id,
        product=filters.product,
    )
    context = page_context(
        membership,
        section="usage",
        **usage_page_context(
            organization=organization, filters=filters, report=report, project_names=project_names
        ),
    )
    template = "usage/usage.html#usage-content" if request.htmx else "usage/usage.html"
    return render(request, template, context)


@require_GET
@login_required
def usage_export(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """The selected range, project and product as CSV: one row per bucket, project and metric."""
    organization = organization_scope(request, organization_slug).organization
    project_names = usage.usage_project_names(organization=organization)
    filters = UsageFilters.from_query(request.GET, project_names=project_names)
    now = timezone.now()
    rows = usage.usage_export_rows(
        organization=organization,
        usage_range=filters.range,
        project_names=project_names,
        project_id=filters.project_id,
        product=filters.product,
        now=now,
    )
    response = HttpResponse(
        usage_csv(rows, granularity=filters.range.granularity), content_type="text/csv; charset=utf-8"
    )
    filename = usage_csv_filename(organization=organization, filters=filters, now=now)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
