from __future__ import annotations

from django import template
from django.conf import settings

from console import permissions
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
