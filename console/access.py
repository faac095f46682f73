"""Preview access to products: who may use them, and requests for it (reads and writes).

Kept apart from services.py/selectors.py, which other work touches heavily, so that the
products' access rules read as one unit.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from console.audit import Actor, audit_record
from console.models import Organization, ProductAccess, ProductAccessRequest
from console.products import product_get


def product_access_granted(*, organization: Organization, product: str) -> bool:
    """Whether the organization may use the product: open access for everyone, or a grant."""
    if product_get(product).open_access:
        return True
    return ProductAccess.objects.filter(organization=organization, product=product).exists()


def product_access_request_for(*, organization: Organization, product: str) -> ProductAccessRequest | None:
    """The organization's standing request for the product, if it made one."""
    return ProductAccessRequest.objects.filter(organization=organization, product=product).first()


@transaction.atomic
def product_access_grant(
    *, organization: Organization, product: str, actor: Actor
) -> tuple[ProductAccess, bool]:
    """Give the organization access to the product; (grant, created). Granting twice changes nothing."""
    try:
        known = product_get(product)
    except ValueError as error:
        raise ValidationError({"product": str(error)}) from None
    grant, created = ProductAccess.objects.get_or_create(
        organization=organization, product=known.key, defaults={"granted_by": actor.label}
    )
    if created:
        audit_record(
            actor=actor,
            organization=organization,
            action="product_access.grant",
            target=grant,
            target_label=known.name,
            details={"product": known.key},
        )
    return grant, created


@transaction.atomic
def product_access_revoke(*, organization: Organization, product: str, actor: Actor) -> bool:
    """Take the organization's grant away (open access still applies); whether there was one."""
    known = product_get(product)
    deleted, _ = ProductAccess.objects.filter(organization=organization, product=known.key).delete()
    if deleted:
        audit_record(
            actor=actor,
            organization=organization,
            action="product_access.revoke",
            target_label=known.name,
            details={"product": known.key},
        )
    return bool(deleted)


@transaction.atomic
def product_access_request(*, organization: Organization, product: str, actor: Actor) -> ProductAccessRequest:
    """Record that the organization asks for access; asking again keeps the first request."""
    known = product_get(product)
    access_request, created = ProductAccessRequest.objects.get_or_create(
        organization=organization, product=known.key, defaults={"requested_by": actor.user}
    )
    if created:
        audit_record(
            actor=actor,
            organization=organization,
            action="product_access.request",
            target=access_request,
            target_label=known.name,
            details={"product": known.key},
        )
    return access_request
