"""The per-process cache of API key lookups, and how a revocation reaches every process.

Why a cache: the data planes authenticate every request, and a warm lookup should cost
no query at all. Why it is safe: a deleted key must stop working everywhere within one
second (DESIGN.md section 5), so the console database carries a *revocation counter*
(``ApiKeyRevocations``): triggers bump it in the same transaction that deletes key rows
or changes their digest, expiry or project, whatever deletes them (a service, a cascade,
Django admin, ``manage.py deleteapikey`` in another process, plain SQL). Each process
compares the counter it last saw with the database's at most every
``REVOCATION_CHECK_SECONDS`` (0.5 s); a changed one — or an unreadable one — drops every
cached entry, so the next lookup goes to the database. A process therefore serves a
revoked key for at most ``REVOCATION_CHECK_SECONDS`` after the deletion committed, well
inside the promised second, and it costs one one-row query per half second, not one per
request — whatever the cache backend (the shared Django cache is not involved: with the
default local-memory cache, each process's cache is its own, and a command run in
another process would not reach it).

The bump commits with the deletion. A lookup that raced the deletion read the counter
*before* its query, so the next check sees the new value; an entry fetched before a
clear is refused by the generation check in ``put``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import DatabaseError

from projects.models import ApiKeyRevocations

if TYPE_CHECKING:
    from projects.models import ApiKey

logger = logging.getLogger(__name__)

REVOCATION_CHECK_SECONDS = 0.5
MAX_ENTRIES = 10_000
# A safety net only: entries are dropped on revocation long before this.
MAX_AGE_SECONDS = 60.0


@dataclass(frozen=True)
class _Entry:
    api_key: ApiKey
    fetched: float


class ApiKeyLookupCache:
    """Digest → ApiKey (with its project), valid while the revocation counter is unchanged.

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
        """Record the counter read at ``checked_at`` (as text); a changed or missing one clears the cache."""
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
    """The revocation counter, as text ("0" while no key was ever revoked); None when it cannot
    be read (the lookups are then not cached)."""
    try:
        generation = ApiKeyRevocations.objects.filter(pk=1).values_list("generation", flat=True).first()
    except DatabaseError:
        logger.warning("Cannot read the API key revocation counter; not caching key lookups.", exc_info=True)
        return None
    return str(generation or 0)


async def arevocation_token_read() -> str | None:
    """``revocation_token_read`` for async callers."""
    try:
        generation = (
            await ApiKeyRevocations.objects.filter(pk=1).values_list("generation", flat=True).afirst()
        )
    except DatabaseError:
        logger.warning("Cannot read the API key revocation counter; not caching key lookups.", exc_info=True)
        return None
    return str(generation or 0)
