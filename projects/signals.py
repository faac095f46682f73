"""Revocation of cached API key lookups whenever a key row disappears.

A signal rather than a call in ``api_key_delete``, deliberately: keys also disappear
through cascades (a project or organization deleted, by a service, Django admin or
an operator's shell), and a revoked key must stop working everywhere within a second
however it went. This is cache invalidation, not business logic; the audit record and
every rule about *who* may delete stay in the services.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from projects.key_cache import revocation_publish


def api_key_deleted(sender: type[Any], **kwargs: Any) -> None:
    # After commit: a process that looks the key up in between must still see it revoked.
    transaction.on_commit(revocation_publish, using=kwargs.get("using"))
