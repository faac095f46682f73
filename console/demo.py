"""The demo organization and login that `make run` seeds (the core's part of it)."""

from __future__ import annotations

from django.db import transaction

from console import services
from console.audit import Actor
from console.models import Membership, Organization, Role, User

DEMO_EMAIL = "demo@example.com"
DEMO_ORGANIZATION_SLUG = "demo"


@transaction.atomic
def demo_seed_core(*, password: str) -> tuple[User, Organization]:
    """Make sure the demo user (with this password) owns the demo organization. Idempotent."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        user = services.user_create(email=DEMO_EMAIL, password=password, name="Demo User")
    else:
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    organization = Organization.objects.filter(slug=DEMO_ORGANIZATION_SLUG).first()
    if organization is None:
        organization = services.organization_create(
            name="Demo Organization", slug=DEMO_ORGANIZATION_SLUG, owner=user, actor=Actor.command("seeddemo")
        )
    else:
        Membership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": Role.OWNER}
        )
    return user, organization
