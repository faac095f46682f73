"""Rate limits for the console's expensive or guessable actions, counted in the shared cache.

Each limit is ``count`` attempts per ``seconds`` for one identity (a user, or a client
address), named in ``settings.RATE_LIMITS`` (``RATE_LIMIT_<NAME>=count/seconds`` in the
environment). Counting is a fixed window in the Django cache (Redis in production), so
every web process shares it: ``cache.add`` then ``cache.incr``, both atomic in Redis.
A fixed window lets at most twice the limit through around a window boundary; for
these limits (minutes, tens of attempts) that is fine, and it costs one cache round
trip per attempt. If the cache fails, the attempt is let through and logged: a cache
outage must not lock everyone out of the console (login throttling behaves the same).

The data planes (the Accelerate gateway, the Pulse stream) limit each API key with
``dataplane.limits.TokenBuckets`` instead: in this process, no cache round trip on the hot
path (see docs/security.md for the trade-off).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"10/60"``: 10 attempts per 60 seconds."""
        count, _, seconds = text.partition("/")
        limit = cls(int(count), int(seconds))
        if limit.count < 1 or limit.seconds < 1:
            raise ValueError(f"A rate limit is two positive numbers, count/seconds: {text!r}")
        return limit


class RateLimited(Exception):
    """Too many attempts; ``retry_after`` seconds until the next window opens."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        self.message = (
            f"Too many attempts. Try again in {retry_after} second{'s' if retry_after != 1 else ''}."
        )
        super().__init__(self.message)

    def respond(self, response: HttpResponse) -> HttpResponse:
        """The answer as HTTP says: status 429 and ``Retry-After``."""
        response.status_code = 429
        response["Retry-After"] = str(self.retry_after)
        return response


def rate_limit_consume(*, name: str, identity: str) -> None:
    """Count one attempt of ``name`` by ``identity``; raise RateLimited if it is over the limit.

    The identity is hashed into the cache key, so addresses and emails are not stored as such.
    """
    limit = RateLimit.parse(settings.RATE_LIMITS[name])
    now = time.time()
    window = int(now // limit.seconds)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    key = f"ratelimit:{name}:{digest}:{window}"
    try:
        cache.add(key, 0, timeout=limit.seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=limit.seconds + 1)
            count = 1
    except Exception:
        log.warning("rate limit %s not counted: the cache failed", name, exc_info=True)
        return
    if count > limit.count:
        raise RateLimited(max(1, math.ceil((window + 1) * limit.seconds - now)))
