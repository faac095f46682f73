"""A password hasher for tests that watches how many password checks run, and how many at once."""

from __future__ import annotations

import threading
import time

from django.contrib.auth.hashers import MD5PasswordHasher


class ObservedHasher(MD5PasswordHasher):
    """MD5 (fast) that counts each check, records the most checks running at once, and takes
    ``delay`` seconds per check, as Argon2 takes ~0.1 s: long enough for concurrent logins
    to overlap."""

    algorithm = "observed_md5"
    delay = 0.0
    checks = 0
    running = 0
    peak = 0
    _lock = threading.Lock()

    @classmethod
    def reset(cls, *, delay: float) -> None:
        with cls._lock:
            cls.delay, cls.checks, cls.running, cls.peak = delay, 0, 0, 0

    def verify(self, password: str, encoded: str) -> bool:
        self._enter()
        try:
            time.sleep(self.delay)
            return super().verify(password, encoded)
        finally:
            self._leave()

    @classmethod
    def _enter(cls) -> None:
        with cls._lock:
            cls.checks += 1
            cls.running += 1
            cls.peak = max(cls.peak, cls.running)

    @classmethod
    def _leave(cls) -> None:
        with cls._lock:
            cls.running -= 1
