"""The products an organization can be given access to while they are in Preview.

Each product app registers itself in its ``AppConfig.ready`` (the core never imports a
product); access grants and requests are core models keyed by the product's ``key``, so
``manage.py grantaccess ORG_SLUG PRODUCT`` and Django admin work for every product.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from console.audit import Actor
    from console.models import Organization

# release(project or organization, actor) -> what was left behind, said for people (may be empty)
Release = Callable[[Any, "Actor"], list[str]]


@dataclass(frozen=True)
class Product:
    key: str  # "accelerate": stored in access grants and requests
    name: str  # "Accelerate": shown to people
    open_access_setting: str  # the setting that, when True, gives every organization access
    # Called before a project / an organization is deleted, to undo what the product set up
    # outside the console (e.g. Pulse's replication slot in the user's database).
    release_project: Release | None = None
    release_organization: Release | None = None

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
