"""`make run`: everything a newcomer needs, started in order, supervised, and stopped together.

The embedded PostgreSQL servers (unless DATABASE_URL is set) → migrations → demo data → the
ASGI server (console + data plane) and the Pulse worker. A Pulse worker that exits is started
again after a pause that grows with each quick failure (said in the terminal); the web server
stays up meanwhile. Ctrl-C stops the processes, then the embedded databases — only what this
run started: a second `make run` beside a running one leaves the first (and its databases) alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools import bootstrap, embedded_pg

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# A restarted child waits 1 s, then 2, 4, … up to 30 s while it keeps failing; once it has run
# for a minute it counts as healthy again.
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_AFTER = 60.0


def say(message: str, *, error: bool = False) -> None:
    """Print, surviving a closed terminal or pipe (Ctrl-C can end `| tee` before us)."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr if error else sys.stdout, flush=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this supervisor dies without cleaning up (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def port_is_free(host: str, port: int) -> bool:
    """Whether the web server could listen on host:port now. With SO_REUSEADDR, as uvicorn binds:
    the connections of a run stopped a moment ago (TIME_WAIT) do not make the port taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, str(BASE_DIR / "manage.py"), *args],
        check=True,
        cwd=BASE_DIR,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


@dataclass
class Child:
    """A process `make run` supervises."""

    name: str
    command: list[str]
    restart: bool  # started again when it exits (else its exit stops everything)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        # Own process group: Ctrl-C reaches the supervisor once, and it stops the children in order.
        self.process = subprocess.Popen(
            self.command, cwd=BASE_DIR, start_new_session=True, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_description(self) -> str:
        assert self.process is not None  # noqa: S101 - only asked after it ran
        code = self.process.returncode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def schedule_restart(self, now: float) -> float:
        """After an exit: when to start again (backoff); returns the delay."""
        if now - self.started_at >= HEALTHY_AFTER:
            self.quick_failures = 0
        delay = RESTART_DELAYS[min(self.quick_failures, len(RESTART_DELAYS) - 1)]
        self.quick_failures += 1
        self.restart_at = now + delay
        return delay

    def stop(self) -> None:
        if self.running():
            assert self.process is not None  # noqa: S101
            self.process.terminate()

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _children(host: str, port: str) -> list[Child]:
    children = [
        Child(
            "web server",
            [
                PYTHON,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                host,
                "--port",
                port,
                "--no-server-header",
                # Open Pulse streams do not end by themselves: give them 5 s, then end them.
                "--timeout-graceful-shutdown",
                "5",
                "--log-level",
                "warning",
            ],
            restart=False,
        ),
    ]
    if (BASE_DIR / "pulse" / "management" / "commands" / "pulseworker.py").exists():
        children.append(
            Child("Pulse worker", [PYTHON, str(BASE_DIR / "manage.py"), "pulseworker"], restart=True)
        )
    return children


def supervise(children: list[Child], stopping: list[bool]) -> None:
    """Until Ctrl-C (or the web server's exit): start again what exits and may be restarted."""
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                    assert child.process is not None  # noqa: S101
                    say(f"The {child.name} is running again (pid {child.process.pid}).")
                continue
            if child.running():
                continue
            if not child.restart:
                say(f"The {child.name} {child.exit_description()}; stopping.", error=True)
                stopping.append(True)
                return
            delay = child.schedule_restart(now)
            say(
                f"The {child.name} {child.exit_description()}; starting it again in {delay:g} s "
                "(the web server keeps running).",
                error=True,
            )
        time.sleep(0.2)


def main() -> int:
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    os.environ["HOST"], os.environ["PORT"] = host, port  # the demo prints commands for this address
    children: list[Child] = []
    embedded: bootstrap.Embedded | None = None
    stopping: list[bool] = []

    def stop(signum: int, frame: object) -> None:
        stopping.append(True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        started = time.monotonic()
        if not port_is_free(host, int(port)):
            say(f"Port {port} on {host} is in use. Stop what runs there, or: PORT=8001 make run", error=True)
            return 1
        embedded = bootstrap.prepare(say=lambda message: say(message, error=True))
        if embedded is not None:
            say(
                f"Embedded PostgreSQL: the console's server on 127.0.0.1:{embedded.console.port}, the demo "
                f"server on 127.0.0.1:{embedded.demo.port} (data in {bootstrap.data_dir()})"
            )
        _manage("migrate", "--noinput", "-v", "0")
        moves = embedded_pg.pending_moves(embedded.demo.data_dir) if embedded is not None else []
        demo = _manage(
            "seeddemo", *[f"--demo-server-moved-from={moved}" for moved in moves], capture=True
        ).strip()
        if embedded is not None and moves:
            embedded_pg.moves_done(embedded.demo.data_dir, moves)
        if stopping:
            return 0
        children = _children(host, port)
        for child in children:
            child.start()
        _wait_for_port(host, int(port), timeout=30, children=children)
        ready = time.monotonic() - started
        url = f"http://{host}:{port}/"
        say(f"\nData Platform Console is running at {url}  (ready in {ready:.1f}s)")
        say(f"{demo}\nPress Ctrl-C to stop everything.\n")
        supervise(children, stopping)
        return 0
    except subprocess.CalledProcessError as error:
        say(f"Start-up failed: {' '.join(map(str, error.cmd))} exited with {error.returncode}.", error=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if children or embedded is not None:
            say("\nStopping…")
        for child in children:
            child.stop()
        for child in children:
            child.wait(timeout=15)
        if embedded is not None:
            stopped = bootstrap.stop(embedded)
            if stopped:
                say("Embedded PostgreSQL stopped.")
            if len(stopped) < len(embedded.servers):
                say("The embedded PostgreSQL that another process started keeps running.")


def _wait_for_port(host: str, port: int, timeout: float, children: list[Child]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if not child.running():
                raise SystemExit(f"The {child.name} {child.exit_description()} while starting.")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"The web server did not start listening on {host}:{port} within {timeout:.0f}s.")


if __name__ == "__main__":
    sys.exit(main())
