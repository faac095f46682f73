"""System checks of the console's deployment (``manage.py check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Cache backends whose contents live in one process (or one machine), not in a shared server.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


@register(Tags.caches, deploy=True)
def shared_cache_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Production without a shared cache works on one process only: say so."""
    if (
        getattr(settings, "EMBEDDED", False)
        or settings.CACHES["default"]["BACKEND"] not in PER_PROCESS_CACHES
    ):
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
            id="console.W001",
        )
    ]
