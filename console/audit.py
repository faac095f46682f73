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


# --- How the audit log says it, for people ----------------------------------------------------
# Each app names its own action codes and detail keys (``audit_vocabulary_register`` from its
# AppConfig.ready); the core names its own below. A code nobody named is still shown in words.

_ACTIONS: dict[str, str] = {}
_DETAILS: dict[str, str] = {}
_TARGETS: dict[str, str] = {}


def audit_vocabulary_register(
    *, actions: dict[str, str], details: dict[str, str] | None = None, targets: dict[str, str] | None = None
) -> None:
    """Name action codes ("project.rename" → "Project renamed"), detail keys ("api_keys" → "API
    keys") and target types ("apikey" → "API key") as the audit log shows them. Idempotent."""
    _ACTIONS.update(actions)
    _DETAILS.update(details or {})
    _TARGETS.update(targets or {})


def _words(code: str) -> str:
    text = code.replace(".", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def audit_action_label(code: str) -> str:
    """The action in words: its registered name, else the code spelled out ("Pulse leftover slot")."""
    return _ACTIONS.get(code) or _words(code)


def audit_target_type_label(target_type: str) -> str:
    """What kind of thing the target is, in words ("API key" for ``apikey``)."""
    return _TARGETS.get(target_type) or _words(target_type)


def _value_text(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        # A list of field names ("changed": ["region"]) reads as the fields' names.
        return ", ".join(
            _DETAILS.get(item, item) if isinstance(item, str) else _value_text(item) for item in value
        )
    if isinstance(value, dict):
        return ", ".join(
            f"{_DETAILS.get(key) or _words(key)}: {_value_text(item)}" for key, item in value.items()
        )
    return str(value)


def audit_details_display(details: dict[str, Any]) -> list[tuple[str, str]]:
    """An event's details as (label, value) pairs in words: "Reused an existing slot: no"."""
    return [(_DETAILS.get(key) or _words(key), _value_text(value)) for key, value in details.items()]


audit_vocabulary_register(
    actions={
        "organization.create": "Organization created",
        "organization.rename": "Organization renamed",
        "organization.delete": "Organization deleted",
        "member.add": "Member added",
        "member.role_change": "Member's role changed",
        "member.remove": "Member removed",
        "member.leave": "Member left",
        "invitation.create": "Invitation sent",
        "invitation.revoke": "Invitation revoked",
        "invitation.accept": "Invitation accepted",
        "product_access.request": "Product access requested",
        "product_access.grant": "Product access granted",
        "product_access.revoke": "Product access revoked",
    },
    details={
        "from": "From",
        "to": "To",
        "email": "Email",
        "role": "Role",
        "owner": "Owner",
        "slug": "URL slug",
        "invitation": "Invitation",
        "product": "Product",
        "projects": "Projects",
        "members": "Members",
    },
    targets={
        "organization": "Organization",
        "membership": "Member",
        "invitation": "Invitation",
        "user": "User",
    },
)
