"""The products an organization can be given access to while they are in Preview.

Each product app registers itself in its ``AppConfig.ready`` (the core never imports a
product); access grants and requests are core models keyed by the product's ``key``, so
``manage.py grantaccess ORG_SLUG PRODUCT`` and Django admin work for every product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache

if TYPE_CHECKING:
    from console.audit import Actor
    from console.models import Organization

# release(project or organization, actor) -> what was left behind, said for people (may be empty)
Release = Callable[[Any, "Actor"], list[str]]


@dataclass(frozen=True)
class Health:
    """How a product is doing for one project, as the Dashboard and the Overview say it.

    ``state`` is the badge's look (``on``, ``warn``, ``fail``, ``off``); ``label`` the word on it
    ("Enabled", "Unreachable", "Lagging", "Disabled"); ``detail`` why, for people. ``checked``
    is False when only what is stored was read and a live check is still to come.
    """

    state: str
    label: str
    detail: str = ""
    checked: bool = True


# health(project, live) -> the product's Health for the project, None when it is not set up.
# live=False reads only what is stored or cached (cheap, for page loads); live=True may check.
HealthCheck = Callable[[Any, bool], "Health | None"]

# How long a live check's answer is reused (by every process, in the shared cache).
HEALTH_TTL_SECONDS = 30

log = logging.getLogger(__name__)


def health_cached(key: str, *, live: bool, check: Callable[[], Health], pending: Health) -> Health:
    """The health last checked under ``key``; when there is none, ``check()`` if ``live`` (and
    kept for HEALTH_TTL_SECONDS), else ``pending``. A cache that fails counts as empty."""
    try:
        cached = cache.get(key)
    except Exception:  # the cache is down: a page must still render
        log.warning("could not read %s from the cache", key, exc_info=True)
        cached = None
    if isinstance(cached, dict):
        return Health(**cached)
    if not live:
        return pending
    health = check()
    try:
        cache.set(key, asdict(health), HEALTH_TTL_SECONDS)
    except Exception:
        log.warning("could not keep %s in the cache", key, exc_info=True)
    return health


@dataclass(frozen=True)
class Product:
    key: str  # "accelerate": stored in access grants and requests
    name: str  # "Accelerate": shown to people
    open_access_setting: str  # the setting that, when True, gives every organization access
    # Called before a project / an organization is deleted, to undo what the product set up
    # outside the console (e.g. Pulse's replication slot in the user's database).
    release_project: Release | None = None
    release_organization: Release | None = None
    health: HealthCheck | None = None

    @property
    def open_access(self) -> bool:
        return bool(getattr(settings, self.open_access_setting, False))


_PRODUCTS: dict[str, Product] = {}


def product_register(product: Product) -> None:
    """Make the product known to access grants, requests and ``grantaccess``. Idempotent."""
    _PRODUCTS[product.key] = product


def product_get(key: str) -> Product:
    """The registered product with this key; ValueError naming the known ones otherwise."""
    try:
        return _PRODUCTS[key]
    except KeyError:
        known = ", ".join(sorted(_PRODUCTS)) or "none"
        raise ValueError(f"No product called {key!r} (known products: {known}).") from None


def products_all() -> list[Product]:
    return sorted(_PRODUCTS.values(), key=lambda product: product.key)


def products_health(*, project: Any, live: bool = False) -> dict[str, Health | None]:
    """Each product's health for the project, by product key (None: not set up there)."""
    return {
        product.key: product.health(project, live) if product.health is not None else None
        for product in products_all()
    }


def products_release_project(*, project: Any, actor: Actor) -> list[str]:
    """Before deleting a project: let every product undo what it set up outside the console.

    Returns what could not be undone (for the person deleting to finish by hand).
    """
    leftovers: list[str] = []
    for product in products_all():
        if product.release_project is not None:
            leftovers += product.release_project(project, actor)
    return leftovers


def products_release_organization(*, organization: Organization, actor: Actor) -> list[str]:
    """Before deleting an organization: as ``products_release_project``, for all its projects."""
    leftovers: list[str] = []
    for product in products_all():
        if product.release_organization is not None:
            leftovers += product.release_organization(organization, actor)
    return leftovers
