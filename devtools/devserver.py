"""`make run`: everything a newcomer needs, started in order and stopped together.

Embedded PostgreSQL (unless DATABASE_URL is set) → migrations → demo data →
the ASGI server (console + data plane) and the Pulse worker. Ctrl-C stops the
processes, then the embedded database: nothing is left running.
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
from pathlib import Path

from devtools import bootstrap, embedded_pg

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def say(message: str, *, error: bool = False) -> None:
    """Print, surviving a closed terminal or pipe (Ctrl-C can end `| tee` before us)."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr if error else sys.stdout, flush=True)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if this supervisor dies without cleaning up (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
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


def executor_sidecar_command(socket_path: str) -> list[str]:
    """The Accelerate executor sidecar (Prisma query plans, accelerate/executor/) on ``socket_path``:
    the web process's gateway forwards Prisma Client's requests to it (docs/accelerate.md)."""
    return ["node", str(BASE_DIR / "accelerate" / "executor" / "server.js"), "--socket", socket_path]


def _executor_sidecar() -> tuple[str, list[str]]:
    """One more child of `make run`, started before the web server, on the socket the gateway uses
    (``ACCELERATE_EXECUTOR_SOCKET``, default ``.data/accelerate-executor.sock``, exported so that
    both processes agree)."""
    socket_path = os.environ.setdefault(
        "ACCELERATE_EXECUTOR_SOCKET", str(bootstrap.data_dir() / "accelerate-executor.sock")
    )
    return ("executor sidecar", executor_sidecar_command(socket_path))


def _background_commands(host: str, port: str) -> list[tuple[str, list[str]]]:
    commands = [
        _executor_sidecar(),
        (
            "web",
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
        ),
    ]
    if (BASE_DIR / "pulse" / "management" / "commands" / "pulseworker.py").exists():
        commands.append(("pulse worker", [PYTHON, str(BASE_DIR / "manage.py"), "pulseworker"]))
    return commands


def main() -> int:
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    os.environ["HOST"], os.environ["PORT"] = host, port  # the demo prints commands for this address
    embedded = not os.environ.get("DATABASE_URL")
    data_dir = bootstrap.data_dir()
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        started = time.monotonic()
        if not _port_is_free(host, int(port)):
            say(f"Port {port} on {host} is in use. Stop what runs there, or: PORT=8001 make run", error=True)
            return 1
        server = bootstrap.prepare()
        if server is not None:
            say(f"Embedded PostgreSQL on 127.0.0.1:{server.port} (data in {server.data_dir})")
        _manage("migrate", "--noinput", "-v", "0")
        demo = _manage("seeddemo", capture=True).strip()
        for name, command in _background_commands(host, port):
            # Own process group: Ctrl-C reaches us once, and we stop the children in order.
            child = subprocess.Popen(
                command, cwd=BASE_DIR, start_new_session=True, preexec_fn=_die_with_parent
            )
            children.append((name, child))
        _wait_for_port(host, int(port), timeout=30, children=children)
        ready = time.monotonic() - started
        url = f"http://{host}:{port}/"
        say(f"\nData Platform Console is running at {url}  (ready in {ready:.1f}s)")
        say(f"{demo}\nPress Ctrl-C to stop everything.\n")
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    say(f"The {name} process exited with code {child.returncode}; stopping.", error=True)
                    stopping = True
            time.sleep(0.2)
        return 0
    except subprocess.CalledProcessError as error:
        say(f"Start-up failed: {' '.join(map(str, error.cmd))} exited with {error.returncode}.", error=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        say("\nStopping…")
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        for _, child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded:
            embedded_pg.stop(data_dir / "postgres")
            say("Embedded PostgreSQL stopped.")


def _wait_for_port(
    host: str, port: int, timeout: float, children: list[tuple[str, subprocess.Popen[bytes]]]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, child in children:
            if child.poll() is not None:
                raise SystemExit(f"The {name} process exited with code {child.returncode} while starting.")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"The web server did not start listening on {host}:{port} within {timeout:.0f}s.")


if __name__ == "__main__":
    sys.exit(main())
