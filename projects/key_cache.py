"""The per-process cache of API key lookups, and how a revocation reaches every process.

Why a cache: the data planes authenticate every request, and a warm lookup should cost
no query at all. Why it is safe: a deleted key must stop working everywhere within one
second (DESIGN.md section 5), so every deletion publishes a new *revocation token* in
the shared Django cache (Redis in production; see ``ApiKey`` deletions in
``projects.signals``), and each process compares the token it last saw with the shared
one at most every ``REVOCATION_CHECK_SECONDS`` (0.5 s). A changed token — or a missing
or unreadable one, e.g. Redis flushed or down — drops every cached entry, so the next
lookup goes to the database. A process therefore serves a revoked key for at most
``REVOCATION_CHECK_SECONDS`` after the token changed, which is well inside the promised
second, and it does one shared-cache read per half second, not one per request.

With the default local-memory cache the token is only shared inside one process; that
is the embedded single-process setup. Several processes need a shared ``CACHE_URL``
(the deployment docs require Redis for more than one web process).

The token is published only after the deleting transaction commits. A lookup that
raced the deletion read the token *before* its query, so the next check sees the new
token; an entry fetched before a clear is refused by the generation check in ``put``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    from projects.models import ApiKey

logger = logging.getLogger(__name__)

REVOCATION_TOKEN_CACHE_KEY = "projects:api-key-revocation-token"  # noqa: S105 (a cache key name)
REVOCATION_CHECK_SECONDS = 0.5
MAX_ENTRIES = 10_000
# A safety net only: entries are dropped on revocation long before this.
MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class _Entry:
    api_key: ApiKey
    fetched: float


class ApiKeyLookupCache:
    """Digest → ApiKey (with its project), valid while the shared revocation token is unchanged.

    Cached ``ApiKey`` objects are shared between callers: treat them as read-only.
    Thread-safe; ``clock`` is injectable so tests can move time forward.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._token: str | None = None
        self._checked_at = float("-inf")

    def revocation_check_due(self) -> bool:
        return self.clock() - self._checked_at >= REVOCATION_CHECK_SECONDS

    def revocation_token_seen(self, token: str | None, *, checked_at: float) -> None:
        """Record the shared token read at ``checked_at``; a changed or missing one clears the cache."""
        with self._lock:
            if token is None or token != self._token:
                self._entries.clear()
                self._generation += 1
            self._token = token
            self._checked_at = checked_at

    def get(self, digest: str) -> tuple[ApiKey | None, int]:
        """The cached key for the digest (or None), and the generation to pass to ``put``."""
        generation = self._generation
        entry = self._entries.get(digest)
        if entry is None or self.clock() - entry.fetched >= MAX_AGE_SECONDS:
            return None, generation
        return entry.api_key, generation

    def put(self, digest: str, api_key: ApiKey, *, generation: int, fetched: float) -> None:
        """Remember a key fetched at ``fetched``, unless the cache was cleared since ``generation``."""
        with self._lock:
            if generation != self._generation or self._token is None:
                return
            if len(self._entries) >= MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]  # the oldest insertion
            self._entries[digest] = _Entry(api_key=api_key, fetched=fetched)

    def clear(self) -> None:
        self.revocation_token_seen(None, checked_at=float("-inf"))

    def __len__(self) -> int:
        return len(self._entries)


def revocation_token_read() -> str | None:
    """The shared revocation token, created when missing; None when the shared cache fails."""
    try:
        token = cache.get(REVOCATION_TOKEN_CACHE_KEY)
        if token is None:
            cache.add(REVOCATION_TOKEN_CACHE_KEY, uuid.uuid4().hex, timeout=None)
            token = cache.get(REVOCATION_TOKEN_CACHE_KEY)
    except Exception:
        logger.warning("Cannot read the API key revocation token; not caching key lookups.", exc_info=True)
        return None
    return token if isinstance(token, str) else None


async def arevocation_token_read() -> str | None:
    """``revocation_token_read`` for async callers."""
    try:
        token = await cache.aget(REVOCATION_TOKEN_CACHE_KEY)
        if token is None:
            await cache.aadd(REVOCATION_TOKEN_CACHE_KEY, uuid.uuid4().hex, timeout=None)
            token = await cache.aget(REVOCATION_TOKEN_CACHE_KEY)
    except Exception:
        logger.warning("Cannot read the API key revocation token; not caching key lookups.", exc_info=True)
        return None
    return token if isinstance(token, str) else None


def revocation_publish() -> None:
    """Tell every process to drop its cached key lookups (call after a deletion commits).

    A failure is logged, not raised: the deletion has committed, and a process that
    cannot read the shared cache does not cache lookups either.
    """
    try:
        cache.set(REVOCATION_TOKEN_CACHE_KEY, uuid.uuid4().hex, timeout=None)
    except Exception:
        logger.exception("Cannot publish an API key revocation to the shared cache.")
