"""System checks of the core's deployment (``manage.py check --deploy``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Backends that write each email, links and all, where logs go rather than to a mailbox.
PRINTING_MAIL_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}


@register(Tags.security, deploy=True)
def mail_backend_check(
    *, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Invitation, sign-up and password-reset links are credentials: in production they go to
    the invited address only, never into a log (docs/security.md)."""
    if settings.EMBEDDED or settings.EMAIL_BACKEND not in PRINTING_MAIL_BACKENDS:
        return []
    return [
        Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND}: every invitation, sign-up and password-reset "
            "link would be written where the console's output goes, for anyone who reads it to use.",
            hint="Set EMAIL_URL (or EMAIL_HOST and friends) to a mail server; see docs/deployment.md.",
            id="console.W001",
        )
    ]


# Cache backends whose contents live in one process (or one machine), not in a shared server.
PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}


@register(Tags.caches, deploy=True)
def shared_cache_check(
    *, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Production without a shared cache works on one process only: say so."""
    if settings.EMBEDDED or settings.CACHES["default"]["BACKEND"] not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            "No shared cache: CACHE_URL is not set, so every process keeps a cache of its own.",
            hint=(
                "Set CACHE_URL=redis://… (docs/deployment.md). Without it, login throttling, the console's "
                "rate limits, the gateway's query cache and the one-connection rule of named Pulse streams "
                "each hold per process, not across the deployment. (API key revocation does not depend "
                "on it: the database carries it.)"
            ),
            id="console.W002",
        )
    ]
