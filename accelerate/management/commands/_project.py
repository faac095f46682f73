from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from projects.models import Project


def project_by_id(value: str) -> Project:
    """The project with this id, for an operator's command (no tenant scoping: operators see all)."""
    try:
        return Project.objects.select_related("organization").get(pk=uuid.UUID(value))
    except (ValueError, Project.DoesNotExist):
        raise CommandError(f"No project with the id {value}.") from None
