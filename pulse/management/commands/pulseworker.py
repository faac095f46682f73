from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from pulse.capture.worker import CaptureWorker


class Command(BaseCommand):
    help = (
        "Capture the changes of every project with Pulse enabled into the event log, until stopped "
        "(SIGTERM or Ctrl-C). Run several for failover: one reads each slot, the others take over "
        "within seconds when it stops."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = CaptureWorker(on_change=self.stdout.write)

        def stop(signum: int, frame: object) -> None:
            worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Pulse worker started.")
        worker.run()
        self.stdout.write("Pulse worker stopped.")
