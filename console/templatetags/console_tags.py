from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.conf import settings

from console import permissions
from console.audit import audit_action_label, audit_details_display, audit_target_type_label
from console.models import Membership
from console.throttling import duration_words

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


@register.simple_tag
def mail_printed() -> bool:
    """``{% mail_printed as printed %}``: whether emails are printed to the terminal (the console
    mail backend, the embedded mode's default) rather than delivered."""
    return bool(settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend")


@register.simple_tag
def password_reset_valid_for() -> str:
    """``{% password_reset_valid_for %}``: how long a password-reset link works, in words."""
    return duration_words(settings.PASSWORD_RESET_TIMEOUT)


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


@register.simple_tag
def demo_login() -> str:
    """``{% demo_login as demo_email %}``: the demo login's email in the embedded mode, else ""."""
    from console.demo import DEMO_EMAIL

    return DEMO_EMAIL if settings.EMBEDDED else ""
