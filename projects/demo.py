"""The projects app's part of the demo: one project in the demo organization, and (in the
embedded development mode) a demo API key the products' demos print."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from console.audit import Actor
from console.models import Organization, User
from devtools import devsecrets
from projects import services
from projects.models import Project

DEMO_PROJECT_NAME = "Demo project"
DEMO_KEY_NAME = "demo"
DEMO_KEY_SECRET = "DEMO_API_KEY"  # noqa: S105 - the name it is stored under, not a secret


def seed(*, organization: Organization, user: User, actor: Actor, write: Callable[[str], object]) -> None:
    if not Project.objects.filter(organization=organization).exists():
        services.project_create(organization=organization, name=DEMO_PROJECT_NAME, actor=actor)
        write(f"Created the project “{DEMO_PROJECT_NAME}”.")
    demo_api_key(organization=organization, actor=actor)


def demo_project(*, organization: Organization) -> Project | None:
    return Project.objects.filter(organization=organization).order_by("created").first()


def demo_api_key(*, organization: Organization, actor: Actor) -> str | None:
    """The demo project's demo key in plaintext, kept in ``.data/secrets.json`` (embedded mode only:
    a key is otherwise shown once and never kept). A new one replaces a key deleted meanwhile."""
    project = demo_project(organization=organization)
    if not settings.EMBEDDED or project is None:
        return None
    path = settings.DATA_DIR / "secrets.json"
    stored = devsecrets.load_or_create(path).get(DEMO_KEY_SECRET)
    if stored:
        api_key = services.api_key_authenticate(stored)
        if api_key is not None and api_key.project_id == project.pk:
            return stored
    project.api_keys.filter(name=DEMO_KEY_NAME).delete()
    _, raw_key = services.api_key_create(project=project, name=DEMO_KEY_NAME, actor=actor)
    devsecrets.store(path, DEMO_KEY_SECRET, raw_key)
    return raw_key
