from __future__ import annotations

from django import template

from console import permissions
from console.models import Membership

register = template.Library()


@register.filter
def can(membership: Membership | None, action: str) -> bool:
    """``{% if membership|can:"manage_api_keys" %}``: the same rule the views enforce."""
    return membership is not None and permissions.can(membership, action)
