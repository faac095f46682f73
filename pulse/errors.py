"""PulseError: what Pulse's writes raise when they cannot do what was asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulse.readiness import Readiness


class PulseError(Exception):
    """Pulse could not be enabled or changed. ``message`` is safe to show; ``readiness`` is the
    checklist when failing checks were the reason."""

    def __init__(self, message: str, *, readiness: Readiness | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.readiness = readiness
