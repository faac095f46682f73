"""Reads of projects, always scoped to the requesting user's memberships."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from console.access import product_access_granted
from console.models import Membership, Organization, User
from console.products import Health, product_get, products_health
from console.selectors import membership_for_user
from projects.models import ApiKey, Project


def project_for_user(
    *, user: User, organization_slug: str, project_id: uuid.UUID
) -> tuple[Membership, Project]:
    """The user's membership and the project, fetched within that membership's organization.

    Http404 when the user is not a member or the project belongs to another organization.
    """
    membership = membership_for_user(user=user, organization_slug=organization_slug)
    try:
        project = Project.objects.get(pk=project_id, organization=membership.organization)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None
    project.organization = membership.organization  # already fetched: saves a query per use
    return membership, project


def project_api_keys(*, project: Project) -> QuerySet[ApiKey]:
    """The project's API keys with their creators, newest first (one query however many)."""
    return project.api_keys.select_related("created_by").order_by("-created", "-id")


def api_key_for_project(*, project: Project, api_key_id: int) -> ApiKey:
    """One of the project's keys; Http404 for a key of another project or one already deleted."""
    try:
        return project.api_keys.select_related("project__organization").get(pk=api_key_id)
    except ApiKey.DoesNotExist:
        raise Http404("No such API key.") from None


def api_keys_still_valid(*, api_key_ids: Collection[int]) -> set[int]:
    """Of these keys, the ones that would still authenticate now: not deleted, not expired (one
    query). For what a data plane holds open on an earlier check (Pulse streams)."""
    unexpired = Q(expires__isnull=True) | Q(expires__gt=timezone.now())
    return set(ApiKey.objects.filter(unexpired, pk__in=api_key_ids).values_list("pk", flat=True))


@dataclass(frozen=True)
class ProductState:
    """What the Dashboard's "Get Started" steps show."""

    api_keys: int
    accelerate_enabled: bool
    pulse_enabled: bool
    accelerate_access: bool  # both products are in Preview: without access, the step offers to ask
    pulse_access: bool
    health: dict[str, Health | None]  # by product key: how a configured product is doing


def _product_enabled(project: Project, relation: str) -> bool:
    # Read through the reverse one-to-one that the product app adds, so `projects` does not
    # import a product. A project without the product's row raises RelatedObjectDoesNotExist,
    # an AttributeError, so getattr's default covers it.
    config = getattr(project, relation, None)
    return bool(getattr(config, "enabled", False))


def project_product_state(*, project: Project) -> ProductState:
    """How far the project has got: its number of API keys, whether Accelerate and Pulse are on,
    and whether its organization has access to them (they are in Preview)."""
    organization = project.organization
    return ProductState(
        api_keys=project.api_keys.count(),
        accelerate_enabled=_product_enabled(project, "accelerate_config"),
        pulse_enabled=_product_enabled(project, "pulse_config"),
        accelerate_access=product_access_granted(organization=organization, product="accelerate"),
        pulse_access=product_access_granted(organization=organization, product="pulse"),
        health=products_health(project=project),
    )


def project_health(*, project: Project, product: str, live: bool) -> Health | None:
    """One product's health for the project (None when it is not set up there); ``live`` may
    check the product's database, else only what is stored or kept is read."""
    registered = product_get(product)  # ValueError for an unknown product
    return registered.health(project, live) if registered.health is not None else None


def organization_projects(*, organization: Organization) -> QuerySet[Project]:
    """The organization's projects for the Overview, by name, with their products' configurations
    (read through the reverse relations: this app does not import a product)."""
    projects = Project.objects.filter(organization=organization).select_related(
        "accelerate_config", "pulse_config"
    )
    return projects.order_by("name", "created")


def project_get(*, project_id: str | uuid.UUID) -> Project | None:
    """The project with this id (text that is not a UUID finds none), for operators' commands (no
    tenant scoping: views use ``project_for_user``)."""
    try:
        key = project_id if isinstance(project_id, uuid.UUID) else uuid.UUID(str(project_id))
    except ValueError:
        return None
    return Project.objects.select_related("organization").filter(pk=key).first()
