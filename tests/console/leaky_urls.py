"""A URLconf of views that forget tenant scoping or role checks, for the URL matrix's self-test."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from console import selectors, services
from console.audit import Actor
from console.models import Membership, Organization


@require_GET
@login_required
def leaky_overview(request, organization_slug):
    # Fetched by slug without asking whether the user is a member.
    return HttpResponse(Organization.objects.get(slug=organization_slug).name)


@require_GET
@login_required
def leaky_member(request, organization_slug, membership_id):
    selectors.membership_for_user(user=request.user, organization_slug=organization_slug)
    # Fetched by pk alone: any organization's member, under one's own slug.
    return HttpResponse(Membership.objects.get(pk=membership_id).user.email)


@require_POST
@login_required
def leaky_rename(request, organization_slug):
    membership = selectors.membership_for_user(user=request.user, organization_slug=organization_slug)
    # No role check: a viewer renames the organization.
    services.organization_rename(
        organization=membership.organization, name="Renamed", actor=Actor.from_request(request)
    )
    return HttpResponse("renamed")


@login_required
def leaky_widget(request, organization_slug, widget_id):
    return HttpResponse("a view whose kwarg the matrix has no mapping for")


urlpatterns = [
    path("o/<slug:organization_slug>/leaky/", leaky_overview, name="leaky_overview"),
    path("o/<slug:organization_slug>/leaky/members/<int:membership_id>/", leaky_member, name="leaky_member"),
    path("o/<slug:organization_slug>/leaky/rename/", leaky_rename, name="leaky_rename"),
    path("o/<slug:organization_slug>/leaky/widgets/<int:widget_id>/", leaky_widget, name="leaky_widget"),
]
