"""Writes of projects."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Actor, audit_record
from console.models import Organization
from projects.models import Project

PROJECT_NAME_MAX = 100


def project_name_clean(name: str) -> str:
    """The name with runs of white space folded, or a ValidationError saying what is wrong."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter a project name."})
    if len(name) > PROJECT_NAME_MAX:
        raise ValidationError(
            {"name": f"The name can have at most {PROJECT_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


@transaction.atomic
def project_create(*, organization: Organization, name: str, actor: Actor) -> Project:
    """Create a project in the organization."""
    project = Project.objects.create(
        organization=organization, name=project_name_clean(name), created_by=actor.user
    )
    audit_record(actor=actor, organization=organization, action="project.create", target=project)
    return project
