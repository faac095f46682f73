"""Per-API-key limits of the data plane, counted in this process (docs/security.md)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable


class TokenBuckets:
    """One token bucket per identity (an API key), in this process: ``rate`` tokens a second,
    at most ``burst`` saved up. Not thread-safe: one per event loop (the data plane has one).

    Identities are kept as a 16-byte BLAKE2 digest, never as the key itself, and at most
    ``max_identities`` of them; when full, the buckets that have refilled (idle identities) go,
    then the oldest.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_identities: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("A token bucket needs a positive rate and a burst of at least 1.")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_identities = max_identities
        self._buckets: dict[bytes, list[float]] = {}  # identity -> [tokens, when counted]

    def take(self, identity: str) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there will be."""
        ident = hashlib.blake2b(identity.encode(errors="surrogatepass"), digest_size=16).digest()
        now = self.clock()
        bucket = self._buckets.get(ident)
        if bucket is None:
            if len(self._buckets) >= self.max_identities:
                self._evict(now)
            self._buckets[ident] = [self.burst - 1, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1:
            bucket[0] = tokens - 1
            return 0.0
        bucket[0] = tokens
        return (1 - tokens) / self.rate

    def _evict(self, now: float) -> None:
        full = self.burst / self.rate
        for ident in [i for i, (_, counted) in self._buckets.items() if now - counted >= full]:
            del self._buckets[ident]
        while len(self._buckets) >= self.max_identities:
            del self._buckets[next(iter(self._buckets))]
