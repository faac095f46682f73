"""Writes of the core: users, organizations, memberships, and login throttling."""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from console.audit import Actor, audit_record
from console.models import Membership, Organization, Role, User

ORGANIZATION_NAME_MAX = 100


def user_create(*, email: str, password: str | None, name: str = "", is_staff: bool = False) -> User:
    """Create a user with a unique (case-insensitive) email; no password means they cannot log in yet."""
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not a valid email address."}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": f"A user with the email {email} already exists."})
    user = User(email=email, name=name.strip(), is_staff=is_staff, is_superuser=is_staff)
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.full_clean()
    user.save()
    return user


def _clean_organization_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter a name for the organization."})
    if len(name) > ORGANIZATION_NAME_MAX:
        raise ValidationError(
            {"name": f"The name can have at most {ORGANIZATION_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


def organization_slug_suggest(*, name: str) -> str:
    """A URL-safe slug for the name, unique among organizations (``acme``, ``acme-2``, …)."""
    base = slugify(name)[:40] or "organization"
    slug, counter = base, 2
    while Organization.objects.filter(slug=slug).exists():
        slug = f"{base}-{counter}"
        counter += 1
    return slug


@transaction.atomic
def organization_create(*, name: str, owner: User, actor: Actor, slug: str | None = None) -> Organization:
    """Create an organization whose owner is ``owner``.

    Without a slug, one is derived from the name and made unique; a slug given
    explicitly must be free, or a ValidationError names the conflict.
    """
    name = _clean_organization_name(name)
    if slug is None:
        slug = organization_slug_suggest(name=name)
    else:
        slug = slug.strip().lower()
        if slugify(slug) != slug or not slug:
            raise ValidationError({"slug": "Use only lowercase letters, digits and hyphens."})
        if len(slug) > 50:
            raise ValidationError({"slug": "The slug can have at most 50 characters."})
        if Organization.objects.filter(slug=slug).exists():
            raise ValidationError({"slug": f"The slug “{slug}” is already taken."})
    organization = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(user=owner, organization=organization, role=Role.OWNER)
    audit_record(
        actor=actor,
        organization=organization,
        action="organization.create",
        target=organization,
        details={"owner": owner.email},
    )
    return organization


@transaction.atomic
def membership_add(*, organization: Organization, user: User, role: str, actor: Actor) -> Membership:
    """Make the user a member with the role; a user already a member is refused."""
    if role not in Role.values:
        raise ValidationError({"role": f"“{role}” is not a role; choose one of {', '.join(Role.values)}."})
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise ValidationError({"user": f"{user.email} is already a member of {organization.name}."})
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    audit_record(
        actor=actor,
        organization=organization,
        action="member.add",
        target=user,
        details={"role": role},
    )
    return membership


# Login throttling -----------------------------------------------------------------------------


def _throttle_keys(*, email: str, ip_address: str | None) -> list[str]:
    keys = ["login-fail:user:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()]
    if ip_address:
        keys.append("login-fail:ip:" + ip_address)
    return keys


def login_lockout_remaining(*, email: str, ip_address: str | None) -> int:
    """Seconds until a login for this account or from this IP may be tried again (0: now)."""
    now = time.time()
    remaining = 0.0
    for key in _throttle_keys(email=email, ip_address=ip_address):
        failures = cache.get(key) or []
        recent = [stamp for stamp in failures if now - stamp < settings.LOGIN_FAILURE_WINDOW_SECONDS]
        if len(recent) >= settings.LOGIN_FAILURE_LIMIT:
            oldest_counted = sorted(recent)[-settings.LOGIN_FAILURE_LIMIT]
            remaining = max(remaining, oldest_counted + settings.LOGIN_FAILURE_WINDOW_SECONDS - now)
    return math.ceil(remaining)


def login_failure_record(*, email: str, ip_address: str | None) -> None:
    """Count a failed login against the account and the IP for the throttling window."""
    now = time.time()
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    for key in _throttle_keys(email=email, ip_address=ip_address):
        failures = [stamp for stamp in (cache.get(key) or []) if now - stamp < window]
        failures.append(now)
        cache.set(key, failures[-50:], timeout=window)


def login_failures_clear(*, email: str) -> None:
    """A successful login forgives the account's failures (not the IP's)."""
    cache.delete(_throttle_keys(email=email, ip_address=None)[0])
