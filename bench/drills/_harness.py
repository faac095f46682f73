"""What the failure drills share: throwaway servers, the console as a real process, and a load loop.

Everything runs on loopback, in temporary folders, and is stopped afterwards: a throwaway
PostgreSQL cluster (devtools/embedded_pg.py on a temporary data folder, restartable on the
same port), a throwaway Redis (tests/redis_server.py), and the console itself under uvicorn
(`config.asgi`, the production entry point) in production mode (`DATABASE_URL` set).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]

# Under `make bench` Django's logging is configured (INFO): httpx would log every request the drills send.
logging.getLogger("httpx").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """A PostgreSQL cluster of the drill's own; ``stop()`` and ``start()`` keep its port."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="drill-pg-"))
        self.data_dir = self.folder / "postgres"
        self.port = 0
        self.password = ""

    def start(self) -> None:
        from devtools import embedded_pg

        server = embedded_pg.ensure_running(self.data_dir, port=self.port or None)
        self.port, self.password = server.port, server.superuser_password
        embedded_pg.ensure_database(server, "console", owner="postgres")  # url()'s default

    def stop(self) -> None:
        from devtools import embedded_pg

        embedded_pg.stop(self.data_dir)

    def url(self, database: str = "console") -> str:
        """As its superuser (the server asks for a password, kept in its folder)."""
        from devtools import embedded_pg

        return embedded_pg.role_url("postgres", self.password, port=self.port, database=database)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


# The per-key gateway limit is not what these drills are about: lifted so it never answers.
UNLIMITED = {"GATEWAY_RATE_LIMIT_PER_SECOND": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}


def console_env(*, database_url: str, cache_url: str = "", data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production console process on loopback (no TLS in front of it),
    with ``extra`` variables on top."""
    alphabet = string.ascii_letters + string.digits
    from cryptography.fernet import Fernet

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "CACHE_URL", "DATABASE_URL"}
    }
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(60)),
        SECRET_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        ALLOW_PRIVATE_DATABASE_HOSTS="true",
        ACCELERATE_OPEN_ACCESS="true",
        PULSE_OPEN_ACCESS="true",
        CONSOLE_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="config.test_settings",  # fast password hashing for the drill's users
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if cache_url:
        env["CACHE_URL"] = cache_url
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def seed(env: dict[str, str], **options: Any) -> dict[str, Any]:
    """A user, organization and project, Accelerate on ``user_database``, API keys: bench/drills/_seed.py."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.drills._seed", json.dumps(options)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed:\n{result.stderr}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


class ConsoleServer:
    """`uvicorn config.asgi:application` in its own process: the console and the data plane."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the console server exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/login/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the console server did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def __enter__(self) -> ConsoleServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# The load loop -----------------------------------------------------------------------------


@dataclass
class Outcome:
    endpoint: str
    started: float  # seconds since the drill began
    latency: float  # seconds
    status: str  # "200", "503", … or "hung" / "transport error"
    detail: str = ""


@dataclass
class Load:
    """Workers that each send one kind of request again and again until ``stop`` is set."""

    began: float = field(default_factory=time.monotonic)
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        return time.monotonic() - self.began

    async def worker(
        self,
        endpoint: str,
        request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
        *,
        base_url: str,
        timeout: float = 10.0,
        check: Callable[[httpx.Response], str] | None = None,
        pause: float = 0.0,
    ) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
            while not self.stop.is_set():
                started = self.now()
                try:
                    response = await request(client)
                    status, detail = str(response.status_code), check(response) if check else ""
                except httpx.TimeoutException:
                    status, detail = "hung", ""
                except httpx.HTTPError as error:
                    status, detail = "transport error", type(error).__name__
                self.outcomes.append(Outcome(endpoint, started, self.now() - started, status, detail))
                if status in ("transport error",):
                    await asyncio.sleep(0.05)
                elif pause:
                    await asyncio.sleep(pause)


def statuses(outcomes: list[Outcome]) -> str:
    counts = Counter(o.status for o in outcomes)
    return ", ".join(f"{status}×{count}" for status, count in sorted(counts.items())) or "none"


def percentile_ms(outcomes: list[Outcome], q: float) -> float:
    values = sorted(o.latency for o in outcomes)
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] * 1000


def recovery_seconds(outcomes: list[Outcome], back_at: float, ok: Callable[[Outcome], bool]) -> float | None:
    """Seconds from ``back_at`` until every later request is ``ok`` (None: never)."""
    later = sorted((o for o in outcomes if o.started >= back_at), key=lambda o: o.started)
    last_bad = max((o.started + o.latency for o in later if not ok(o)), default=back_at)
    if not any(ok(o) and o.started >= last_bad for o in later):
        return None
    return last_bad - back_at


def verdict(name: str, passed: bool, figures: str) -> bool:
    print(f"{'PASS' if passed else 'FAIL'} {name}: {figures}", flush=True)
    return passed
