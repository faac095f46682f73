"""Who is acting, and the audit record of what they did (DESIGN.md section 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    # REMOTE_ADDR is the peer; behind a proxy, the operator's proxy sets it (see docs/operations.md).
    return request.META.get("REMOTE_ADDR") or None


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
