"""The projects app's part of the demo: one project in the demo organization."""

from __future__ import annotations

from collections.abc import Callable

from console.audit import Actor
from console.models import Organization, User
from projects import services
from projects.models import Project

DEMO_PROJECT_NAME = "Demo project"


def seed(*, organization: Organization, user: User, actor: Actor, write: Callable[[str], object]) -> None:
    if not Project.objects.filter(organization=organization).exists():
        services.project_create(organization=organization, name=DEMO_PROJECT_NAME, actor=actor)
        write(f"Created the project “{DEMO_PROJECT_NAME}”.")
