"""The products an organization can be given access to while they are in Preview.

Each product app registers itself in its ``AppConfig.ready`` (the core never imports a
product); access grants and requests are core models keyed by the product's ``key``, so
``manage.py grantaccess ORG_SLUG PRODUCT`` and Django admin work for every product.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Product:
    key: str  # "accelerate": stored in access grants and requests
    name: str  # "Accelerate": shown to people
    open_access_setting: str  # the setting that, when True, gives every organization access

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
