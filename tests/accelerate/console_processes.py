"""The console as `make run` starts it, for tests: `uvicorn config.asgi:application` processes and the
executor sidecar process (the same command devtools/devserver.py runs), on the test database.

The web processes run in production mode (``DATABASE_URL`` set to the test database, the test
run's own ``SECRET_ENCRYPTION_KEYS`` so that they can read the connection strings the test
stored), so they see exactly what the test writes through the services.
"""

from __future__ import annotations

import os
import secrets
import select
import signal
import socket
import string
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

from devtools.devserver import executor_sidecar_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def console_env(*, socket_path: Path, node: str = "testmachine", **extra: str) -> dict[str, str]:
    """A production web process's environment on the test database (call with the database set up)."""
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    userinfo = quote(db["USER"], safe="") + (
        f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    )
    url = f"postgresql://{userinfo}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'], safe='')}"
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL", "EMBEDDED_DATABASE_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=url,
        SECRET_KEY="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(60)),
        SECRET_ENCRYPTION_KEYS=",".join(settings.SECRET_ENCRYPTION_KEYS),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        ALLOW_PRIVATE_DATABASE_HOSTS="true",
        ACCELERATE_OPEN_ACCESS="true",
        ACCELERATE_EXECUTOR_SOCKET=str(socket_path),
        GATEWAY_REGION="eu-west-1",
        GATEWAY_NODE=node,
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Child:
    """A process of the test's own, its output in a log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, command: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class SidecarProcess(Child):
    """The executor sidecar, started with the command `make run` uses."""

    def __init__(self, socket_path: Path, *, env: dict[str, str]) -> None:
        super().__init__(
            executor_sidecar_command(str(socket_path)), env=env, log_path=socket_path.with_suffix(".log")
        )
        self.socket_path = socket_path

    def start(self, timeout: float = 15) -> SidecarProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"the executor sidecar did not start: {line!r}\n{self.log()}")
        return self


class WebProcess(Child):
    """`uvicorn config.asgi:application` with the options devtools/devserver.py gives it."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        super().__init__(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-server-header",
                "--timeout-graceful-shutdown",
                "5",
                "--log-level",
                "warning",
            ],
            env=env,
            log_path=log_dir / f"web-{self.port}.log",
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def accelerate_url(self, key: str) -> str:
        """The connection string the console hands out for a loopback console."""
        return f"prisma+postgres://127.0.0.1:{self.port}/?api_key={key}"

    def start(self, timeout: float = 60) -> WebProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the web process exited:\n{self.log()}")
            try:
                if httpx.get(self.url + "/connection-info", timeout=2).status_code == 401:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the web process did not start:\n{self.log()}")
