"""The executor sidecar (accelerate/executor/) as a process of a test's or benchmark's own.

It speaks HTTP/1.1 on a Unix socket; :class:`ExecutorSidecar` starts it the way the gateway will
(stdin kept open so that it dies with us, stdout's first line says it listens), gives an httpx
client on the socket, and builds the setup call from a connection string exactly as the gateway
will: parsed by ``userdb.connection_strings``, the host resolved and checked by the SSRF guard,
the approved address pinned as ``hostaddr``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXECUTOR_DIR = ROOT / "accelerate" / "executor"
PRISMA_DIR = ROOT / "tests" / "prisma"
CLIENT_VERSION = "7.10.0"


def missing_node_tools() -> str | None:
    """Why the Node.js side cannot run here (None when it can): node >= 20, and `make node` done."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return "Node.js >= 20 and npm are required (Debian: apt-get install nodejs npm)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        return f"Node.js >= 20 is required, this is {version}"
    for stamp in (
        EXECUTOR_DIR / "node_modules" / ".installed",
        PRISMA_DIR / "node_modules" / ".installed",
        PRISMA_DIR / "generated" / ".generated",
    ):
        if not stamp.exists():
            return f"{stamp.relative_to(ROOT)} is missing: run `make install` (npm ci and prisma generate)"
    return None


def setup_body(
    url: str, *, limits: dict[str, int] | None = None, client_version: str = CLIENT_VERSION, **connection: Any
) -> dict[str, Any]:
    """The setup call's body for a user's connection string, as the gateway builds it.

    ``connection`` overrides libpq keywords after the fact (e.g. ``hostaddr`` or ``host``).
    """
    from userdb.connection_strings import parse, resolve_allowed_address

    parsed = parse(url)
    address = resolve_allowed_address(parsed.host, parsed.port, allow_private=True)
    kwargs = parsed.connect_kwargs(hostaddr=address, connect_timeout=5)
    kwargs.update(connection)
    body: dict[str, Any] = {"clientVersion": client_version, "connection": kwargs, "schema": parsed.schema}
    if limits:
        body["limits"] = limits
    return body


class ExecutorSidecar:
    """``node accelerate/executor/server.js`` on ``socket_path``; stderr (its log) goes to ``log_path``."""

    def __init__(
        self, socket_path: Path, *, args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> None:
        self.socket_path = socket_path
        self.log_path = socket_path.with_suffix(".log")
        self.args = args
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(socket_path)), base_url="http://executor", timeout=30
        )

    def start(self, timeout: float = 15) -> ExecutorSidecar:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                ["node", "server.js", "--socket", str(self.socket_path), "--exit-with-stdin", *self.args],
                cwd=EXECUTOR_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, **self.env},
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening "):
            self.kill()
            raise RuntimeError(f"the executor sidecar did not start: {line!r}\n{self.log_path.read_text()}")
        return self

    def setup(self, executor_id: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.put(f"/executors/{executor_id}", json=body)

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

    def requests_logged(self) -> list[dict[str, Any]]:
        return [line for line in self.log() if line.get("msg") == "request"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.process is not None
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        self.client.close()
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
