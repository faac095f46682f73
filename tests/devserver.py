"""`make run`'s supervisor (`python -m devtools.devserver`) as a test runs it: on a port and a data
folder of its own, its output collected, every process it started stopped afterwards — even when
the test fails (its process group, the children it started, and the embedded servers)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Variables of the test process that must not reach a `make run` of its own.
NOT_INHERITED = {
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "EMBEDDED_DATABASE_URL",
    "EMBEDDED_DEMO_DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "SECRET_KEY",
    "SECRET_ENCRYPTION_KEYS",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> dict[int, str]:
    """{pid: command line} of the processes whose parent is pid (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                )
        except (OSError, ValueError, IndexError):
            continue
    return found


class DevServer:
    """One `make run`: start() waits until it serves, stop() is Ctrl-C."""

    def __init__(self, data_dir: Path, port: int, **env: str) -> None:
        self.data_dir = data_dir
        self.port = port
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in NOT_INHERITED},
            "CONSOLE_DATA_DIR": str(data_dir),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []
        self.seen_children: set[int] = set()
        self._reader: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout: float = 120) -> DevServer:
        self.lines = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.devserver"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, to kill whatever is left
        )
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        if wait:
            self.wait_for("Press Ctrl-C to stop everything.", timeout=timeout)  # the banner's last line
        return self

    def _read(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, *, timeout: float = 60) -> str:
        """The first output line containing text; fails (with the output) after timeout or an exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            assert self.process is not None
            if self.process.poll() is not None and self._reader is not None:
                self._reader.join(5)
                if not any(text in line for line in self.lines):
                    raise AssertionError(
                        f"make run exited ({self.process.returncode}) without saying {text!r}:\n{self.output}"
                    )
            self.record_children()
            time.sleep(0.1)
        raise AssertionError(f"make run did not say {text!r} within {timeout:g} s:\n{self.output}")

    def children(self) -> dict[int, str]:
        assert self.process is not None
        found = children_of(self.process.pid)
        self.seen_children.update(found)
        return found

    def record_children(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.children()

    def child(self, name: str) -> int:
        """The pid of the child whose command line contains name."""
        matches = [pid for pid, command in self.children().items() if name in command]
        assert len(matches) == 1, f"{name}: {self.children()}"
        return matches[0]

    def stop(self, timeout: float = 40) -> int:
        """Ctrl-C, as a terminal sends it; the exit code."""
        assert self.process is not None
        self.record_children()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout)
        finally:
            self.kill()
        if self._reader is not None:
            self._reader.join(5)
        return code

    def kill(self) -> None:
        """Whatever this run left: its process group, and the children it started (their own groups)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in self.seen_children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    # What the demo printed.
    def demo_key(self) -> str:
        return _printed(self.output, r"Bearer (dpk_\w+)")

    def demo_login(self) -> tuple[str, str]:
        return _printed(self.output, r"Demo login: (\S+)"), _printed(self.output, r"Demo login: \S+ / (\S+)")

    def demo_database_url(self) -> str:
        return _printed(self.output, r"^\s+(postgresql://\S+)$")

    def query(self, sql: str, params: list[Any] | None = None) -> dict[str, Any]:
        """The demo's curl: a query through the gateway with the demo key."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(
                "POST",
                "/accelerate/v1/query",
                body=json.dumps({"query": sql, "params": params or []}),
                headers={"Authorization": f"Bearer {self.demo_key()}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            answer: dict[str, Any] = json.loads(response.read())
            assert response.status == 200, answer
            return answer
        finally:
            connection.close()

    def get(self, path: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


def _printed(output: str, pattern: str) -> str:
    found = re.search(pattern, output, re.MULTILINE)
    assert found, f"not printed ({pattern}):\n{output}"
    return found.group(1)


class SseStream:
    """One open SSE response of /pulse/v1/stream, read event by event; an end is an error."""

    def __init__(self, base_url: str, key: str, model: str, *, timeout: float = 60) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.connection.request(
            "GET", f"/pulse/v1/stream?model={model}", headers={"Authorization": f"Bearer {key}"}
        )
        self.response = self.connection.getresponse()
        assert self.response.status == 200, self.response.read()

    def event(self) -> dict[str, Any]:
        """The next event (comments and heartbeats skipped); AssertionError if the stream ended."""
        fields: dict[str, str] = {}
        while True:
            raw = self.response.readline()
            if not raw:
                raise AssertionError("the stream ended")
            line = raw.decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if not line:
                if "data" in fields:
                    return {**fields, "data": json.loads(fields["data"])}
                fields = {}
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def close(self) -> None:
        self.connection.close()
