"""Login throttling: one rule, one implementation, for every password sign-in — the console's
``/login/`` and Django admin's ``/admin/login/`` (both forms call ``login_authenticate``).

The rule (docs/security.md, "Signing in"):

- **Per account.** ``LOGIN_FAILURE_LIMIT`` (5) failed sign-ins for one email within a window of
  ``LOGIN_FAILURE_WINDOW_SECONDS`` (15 minutes) pause signing in to it for that long. The email
  is counted whether or not an account has it, so the answer says nothing about which exist.
  A successful sign-in forgives the account's failures.
- **Per client address**, for password spraying (one guess against many accounts):
  ``LOGIN_FAILURE_ADDRESS_LIMIT`` (100) failed sign-ins from one address, whatever the accounts,
  pause sign-ins from that address the same way. Much higher than the account limit because
  many people can share an address (an office, a proxy): one person's typos never lock out
  their colleagues. The address is ``console.audit.client_ip`` (a trusted proxy header only).
- **Counted before the password is hashed, atomically.** An attempt first takes a place in both
  counters (``cache.add`` + ``cache.incr``, atomic in Redis and in local memory); one that lands
  over a limit gives its place back and is refused without hashing anything. So twenty
  concurrent wrong passwords for one account hash at most five, where reading the count and
  then writing it let all twenty through.
- **Bounded hashing.** An Argon2 hash takes ~100 MiB: at most ``LOGIN_CONCURRENT_HASHES`` run at
  once per process; the others wait up to ``LOGIN_HASH_WAIT_SECONDS`` for a turn and are then
  refused as busy (429), so a burst of logins queues instead of exhausting memory.

Counts are a fixed window per identity (like ``console/ratelimit.py``): at most twice the limit
of failures get through around a window boundary before the pause. Reaching a limit sets a
pause of the full window from that moment. The counters live in the Django cache — Redis
(``CACHE_URL``) in production, so every process shares them; the default local-memory cache
counts per process. If the cache fails, attempts are let through and a warning is logged: a
cache outage must not lock everyone out (the concurrency bound still holds).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.http import HttpRequest

from console.audit import client_ip
from console.models import User

logger = logging.getLogger(__name__)


class LoginRefused(Exception):
    """The attempt was refused before any password was checked; ``retry_after`` seconds to wait."""

    def __init__(self, retry_after: int, *, busy: bool = False) -> None:
        self.retry_after = max(1, retry_after)
        self.busy = busy
        if busy:
            self.message = (
                f"Many sign-ins are being checked right now. Try again in {duration_words(self.retry_after)}."
            )
        else:
            self.message = (
                "Too many failed attempts. For your security, signing in is paused for "
                f"{duration_words(self.retry_after)}. Try again then."
            )
        super().__init__(self.message)


def duration_words(seconds: int) -> str:
    """``45 seconds``, ``15 minutes``, ``24 hours``: rounded up to the unit shown."""
    if seconds < 60:
        count, unit = seconds, "second"
    elif seconds < 2 * 3600 and seconds % 3600:
        count, unit = math.ceil(seconds / 60), "minute"
    else:
        count, unit = math.ceil(seconds / 3600), "hour"
    return f"{count} {unit}{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class _Identity:
    """One thing failures are counted against: an account (by email) or a client address."""

    kind: str
    digest: str
    limit: int

    def counter_key(self, window: int) -> str:
        return f"login:{self.kind}:{self.digest}:{window}"

    @property
    def pause_key(self) -> str:
        return f"login:{self.kind}:{self.digest}:paused-until"


def _digest(value: str) -> str:
    # Emails and addresses are not stored as such in the cache.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _account(email: str) -> _Identity:
    return _Identity("account", _digest(email.strip().lower()), settings.LOGIN_FAILURE_LIMIT)


def _address(ip_address: str) -> _Identity:
    return _Identity("address", _digest(ip_address), settings.LOGIN_FAILURE_ADDRESS_LIMIT)


def login_authenticate(*, request: HttpRequest | None, email: str, password: str) -> User | None:
    """Check an email and password under the throttling rule: the user, or None when they do not
    match. Raises LoginRefused, without checking the password, while the account or the client
    address is paused, when this attempt would go over a limit, or when no hashing turn frees
    up in time."""
    identities = [_account(email)]
    if request is not None and (ip_address := client_ip(request)):
        identities.append(_address(ip_address))
    now = time.time()
    window_seconds = settings.LOGIN_FAILURE_WINDOW_SECONDS
    window = int(now // window_seconds)
    try:
        paused_until = cache.get_many([identity.pause_key for identity in identities])
        if paused_until:
            raise LoginRefused(math.ceil(max(paused_until.values()) - now))
        counts = _reserve(identities, window)
    except LoginRefused:
        raise
    except Exception:
        logger.warning("login throttling is off for this attempt: the cache failed", exc_info=True)
        counts = {}
    over = [identity for identity in identities if counts.get(identity, 0) > identity.limit]
    if over:
        # Attempts already in flight will use up the limit: refused without hashing.
        _release(counts, window)
        raise LoginRefused(window_seconds)
    try:
        with _hashing_turn():
            user = authenticate(request, username=email, password=password)
    except BaseException:
        # Not a verdict on the password (busy, or an error): the places are given back.
        _release(counts, window)
        raise
    _settle(counts, window, now=now, authenticated=user is not None)
    return user if isinstance(user, User) else None


def _reserve(identities: list[_Identity], window: int) -> dict[_Identity, int]:
    """Take this attempt's place in each identity's counter for the window; the counts after it."""
    timeout = settings.LOGIN_FAILURE_WINDOW_SECONDS + 1
    counts: dict[_Identity, int] = {}
    for identity in identities:
        key = identity.counter_key(window)
        cache.add(key, 0, timeout=timeout)
        try:
            counts[identity] = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            counts[identity] = 1
    return counts


def _release(counts: dict[_Identity, int], window: int) -> None:
    """Give back the places taken by an attempt that did not check a password."""
    for identity in counts:
        with contextlib.suppress(Exception):  # expired meanwhile, or the cache failed: nothing to give back
            cache.decr(identity.counter_key(window))


def _settle(counts: dict[_Identity, int], window: int, *, now: float, authenticated: bool) -> None:
    """After a password check: a success forgives the account and gives back the address's place;
    a failure stays counted, and one that reaches a limit pauses that identity for the window."""
    window_seconds = settings.LOGIN_FAILURE_WINDOW_SECONDS
    try:
        for identity, count in counts.items():
            if authenticated:
                if identity.kind == "account":
                    cache.delete(identity.counter_key(window))
                else:
                    cache.decr(identity.counter_key(window))
            elif count >= identity.limit:
                cache.add(identity.pause_key, now + window_seconds, timeout=window_seconds)
                cache.delete(identity.counter_key(window))
    except Exception:
        logger.warning("login throttling could not record an attempt: the cache failed", exc_info=True)


_turns_lock = threading.Lock()
_turns: dict[int, threading.BoundedSemaphore] = {}


@contextlib.contextmanager
def _hashing_turn() -> Iterator[None]:
    """One of the process's ``LOGIN_CONCURRENT_HASHES`` turns to check a password; LoginRefused
    (busy) when none frees up within ``LOGIN_HASH_WAIT_SECONDS``."""
    size = settings.LOGIN_CONCURRENT_HASHES
    with _turns_lock:
        turns = _turns.setdefault(size, threading.BoundedSemaphore(size))
    wait = settings.LOGIN_HASH_WAIT_SECONDS
    if not turns.acquire(timeout=wait):
        logger.warning("login refused as busy: %d password checks running for %.1f s", size, wait)
        raise LoginRefused(max(1, math.ceil(wait)), busy=True)
    try:
        yield
    finally:
        turns.release()


@dataclass(frozen=True)
class LockoutLifted:
    """What lifting a lockout found: whether it was paused, and failures counted in this window."""

    paused: bool
    failures: int


def login_lockout_lift(*, email: str = "", ip_address: str = "") -> LockoutLifted:
    """Lift the sign-in pause of an account (by email) and/or a client address, and forget their
    failures in this window and the last, so the next sign-in is checked at once."""
    identities = ([_account(email)] if email else []) + ([_address(ip_address)] if ip_address else [])
    if not identities:
        raise ValueError("Name an email, a client address, or both.")
    window = int(time.time() // settings.LOGIN_FAILURE_WINDOW_SECONDS)
    keys = [identity.pause_key for identity in identities]
    counters = [identity.counter_key(w) for identity in identities for w in (window, window - 1)]
    found = cache.get_many([*keys, *counters])
    cache.delete_many([*keys, *counters])
    return LockoutLifted(
        paused=any(key in found for key in keys),
        failures=sum(int(found.get(key) or 0) for key in counters),
    )
