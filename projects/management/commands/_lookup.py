"""Finding the project a command names, with the errors an operator can act on."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from projects.models import Project


def project_by_id(value: str) -> Project:
    try:
        project_id = uuid.UUID(value)
    except ValueError:
        raise CommandError(f"“{value}” is not a project id (a UUID, as `createproject` prints).") from None
    try:
        return Project.objects.select_related("organization").get(pk=project_id)
    except Project.DoesNotExist:
        raise CommandError(f"No project with the id {project_id}.") from None
