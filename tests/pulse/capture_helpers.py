"""Running the capture worker inside a test, and waiting on what it writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from console.audit import Actor
from pulse.capture.worker import CaptureWorker
from pulse.models import PulseConfig, PulseEvent
from pulse.services import pulse_enable

ACTOR = Actor.command("test")


def enable(project, url: str, tables: list[str] | None = None) -> PulseConfig:
    return pulse_enable(
        project=project, connection_string=url, region="eu-west-1", tables=tables or [], actor=ACTOR
    )


@contextmanager
def running_worker() -> Iterator[CaptureWorker]:
    """A CaptureWorker (the supervisor and its readers) in a thread, stopped afterwards."""
    worker = CaptureWorker(refresh=0.2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(15)


def wait_for(condition: Callable[[], Any], *, timeout: float = 15.0, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "timed out waiting")
        time.sleep(0.05)


def events(project, count: int, *, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Wait until the log holds ``count`` events of the project; them, in sequence order."""

    def enough() -> list[PulseEvent] | None:
        found = list(PulseEvent.objects.filter(project=project).order_by("id"))
        return found if len(found) >= count else None

    found = wait_for(enough, timeout=timeout, message=f"fewer than {count} events were captured")
    return [
        {"model": e.model_name, "action": e.action, **json.loads(json.dumps(e.payload)), "lsn": e.lsn}
        for e in found
    ]
