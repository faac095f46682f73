from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.conf import settings

from console import permissions
from console.audit import audit_action_label, audit_details_display, audit_target_type_label
from console.models import Membership

register = template.Library()


@register.filter
def can(membership: Membership | None, action: str) -> bool:
    """``{% if membership|can:"manage_api_keys" %}``: the same rule the views enforce."""
    return membership is not None and permissions.can(membership, action)


@register.filter
def can_manage_member(membership: Membership | None, target: Membership) -> bool:
    """``{% if membership|can_manage_member:member %}``: may change this member's role or remove them."""
    return membership is not None and permissions.can_manage_member(membership, target)


@register.simple_tag
def signup_allowed() -> bool:
    """``{% signup_allowed as allow_signup %}``: whether open self-service sign-up is on."""
    return bool(settings.ALLOW_SIGNUP)


@register.filter(name="zip")
def zip_with(first: Iterable[Any], second: Iterable[Any]) -> list[tuple[Any, Any]]:
    """``{% for label, cell in labels|zip:cells %}``: two lists side by side (a table's headers
    beside a row's cells, for the cells' ``data-label`` when narrow tables stack)."""
    return list(zip(first, second, strict=False))


@register.filter
def audit_action(code: str) -> str:
    """``{{ event.action|audit_action }}``: "Invitation accepted" for ``invitation.accept``."""
    return audit_action_label(code)


@register.filter
def audit_details(details: dict[str, Any]) -> list[tuple[str, str]]:
    """``{% for label, value in event.details|audit_details %}``: the details in words."""
    return audit_details_display(details or {})


@register.filter
def audit_target_type(target_type: str) -> str:
    """``{{ event.target_type|audit_target_type }}``: "API key" for ``apikey``."""
    return audit_target_type_label(target_type)


CONSOLE_EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"


@register.simple_tag
def mail_goes_to_terminal() -> bool:
    """``{% mail_goes_to_terminal as to_terminal %}``: email is printed, not sent (no mail server set up)."""
    return bool(settings.EMAIL_BACKEND == CONSOLE_EMAIL_BACKEND)


@register.simple_tag
def demo_login() -> str:
    """``{% demo_login as demo_email %}``: the demo login's email in the embedded mode, else ""."""
    from console.demo import DEMO_EMAIL

    return DEMO_EMAIL if settings.EMBEDDED else ""
