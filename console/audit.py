"""Who is acting, and the audit record of what they did (DESIGN.md section 4)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest

from console.models import AuditEvent, Organization, User


@dataclass(frozen=True)
class Actor:
    """The person (or operator command) behind a mutating action, and where it came from."""

    user: User | None
    label: str
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = request.user if isinstance(request.user, User) else None
        return cls(
            user=user,
            label=user.email if user else "anonymous",
            ip_address=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )

    @classmethod
    def command(cls, name: str, user: User | None = None) -> Actor:
        """An operator running ``manage.py name``."""
        return cls(user=user, label=f"manage.py {name}")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for login throttling, rate limits and the audit log.

    ``REMOTE_ADDR`` (the peer) unless ``TRUSTED_PROXY_HEADER`` names the header the operator's
    proxies set (``X-Forwarded-For``, ``X-Real-IP``): then its entry ``TRUSTED_PROXY_COUNT``
    places from the right. Each trusted proxy appends the address it saw, so what lies further
    left is whatever the client sent and is never used. A missing or too short header, or an
    entry that is not an IP address, falls back to ``REMOTE_ADDR`` (docs/operations.md).
    """
    peer = request.META.get("REMOTE_ADDR") or None
    header = settings.TRUSTED_PROXY_HEADER
    if not header:
        return peer
    entries = [entry.strip() for entry in request.headers.get(header, "").split(",")]
    count = settings.TRUSTED_PROXY_COUNT
    if count < 1 or len(entries) < count:
        return peer
    try:
        return str(ipaddress.ip_address(entries[-count]))
    except ValueError:
        return peer


def audit_record(
    *,
    actor: Actor,
    organization: Organization,
    action: str,
    target: Model | None = None,
    target_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. Callers pass no secrets in ``details``."""
    return AuditEvent.objects.create(
        organization=organization,
        organization_name=organization.name,
        actor=actor.user,
        actor_label=actor.label,
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label or (str(target) if target is not None else ""),
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        details=details or {},
    )
