"""Prepare the embedded development mode where a process starts, never when settings are read.

Called by every entry point before Django reads its settings: ``manage.py``, ``config/asgi.py``,
``config/wsgi.py``, the dev server (``make run``) and the test plugin. With ``DATABASE_URL`` set
(production) it does nothing. Without it, it makes sure the development secrets exist under
``.data/`` and two embedded PostgreSQL servers run (``docs/security.md``, the embedded mode):

- the **console's server** (``.data/postgres``) holds the console's own database, ``console``,
  owned by the role ``console`` — not a superuser — which is what the console connects as;
- the **demo server** (``.data/demo-postgres``, ``wal_level = logical``) holds the ``demo``
  database, owned by the unprivileged role ``demo`` (LOGIN REPLICATION: what Pulse needs).
  It is where the demo's Accelerate and Pulse configurations point, and where users of the
  embedded mode may point theirs; the test suite makes its stand-in user databases there.

Both ask every client for a password (SCRAM). A user's connection string can never reach the
console's server (``userdb.connection_strings`` refuses its address and port), and nothing on
the demo server is worth more than the demo. The settings learn where the servers are through
the environment (``EMBEDDED_DATABASE_URL``, ``EMBEDDED_DEMO_DATABASE_URL``), so
``config/settings.py`` only reads.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from devtools import devsecrets, embedded_pg

BASE_DIR = Path(__file__).resolve().parent.parent
CONSOLE_ROLE = "console"
CONSOLE_DATABASE = "console"
DEMO_ROLE = "demo"
DEMO_DATABASE = "demo"


def data_dir() -> Path:
    """Where the embedded mode keeps its data and secrets (``CONSOLE_DATA_DIR``, default ``.data/``)."""
    return Path(os.environ.get("CONSOLE_DATA_DIR", BASE_DIR / ".data"))


def console_server_dir(folder: Path) -> Path:
    return folder / "postgres"


def demo_server_dir(folder: Path) -> Path:
    return folder / "demo-postgres"


@dataclass(frozen=True)
class Embedded:
    console: embedded_pg.EmbeddedServer
    demo: embedded_pg.EmbeddedServer
    database_url: str  # the console's database, as the role console
    demo_database_url: str  # the demo database, as the role demo

    @property
    def servers(self) -> list[embedded_pg.EmbeddedServer]:
        return [self.console, self.demo]


def _say(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


def prepare(*, say: Callable[[str], object] = _say) -> Embedded | None:
    """In the embedded mode: secrets generated (once), both servers running with their roles and
    databases; returns them. ``None`` in production mode, where there is nothing to prepare.

    Idempotent and safe across processes (each server's start takes a file lock). What changed
    on the way (a port another program took, a migrated folder) is said through ``say``.
    """
    if os.environ.get("DATABASE_URL"):
        return None
    folder = data_dir()
    devsecrets.load_or_create(folder / "secrets.json")
    (folder / "staticfiles").mkdir(parents=True, exist_ok=True)  # STATIC_ROOT, which WhiteNoise expects
    with ThreadPoolExecutor(max_workers=2) as pool:  # a first start runs initdb twice: at once
        console_started = pool.submit(embedded_pg.ensure_running, console_server_dir(folder), logical=False)
        demo_started = pool.submit(embedded_pg.ensure_running, demo_server_dir(folder), logical=True)
        console, demo = console_started.result(), demo_started.result()
    database_url = _console_database(console, say=say)
    demo_database_url = _demo_database(demo)
    for name, server in (("console's", console), ("demo", demo)):
        if server.moved_from is not None:
            say(
                f"Port {server.moved_from} of the embedded PostgreSQL ({name} server) is taken by another "
                f"program: it listens on {server.port} now."
            )
    os.environ["EMBEDDED_DATABASE_URL"] = database_url
    os.environ["EMBEDDED_DEMO_DATABASE_URL"] = demo_database_url
    return Embedded(console, demo, database_url, demo_database_url)


def prepare_demo_server() -> embedded_pg.EmbeddedServer:
    """Only the demo server (the test suite's stand-in for users' servers, in either mode)."""
    server = embedded_pg.ensure_running(demo_server_dir(data_dir()), logical=True)
    _demo_database(server)
    return server


def _needs_setup(server: embedded_pg.EmbeddedServer, step: str) -> bool:
    """Roles and databases are checked at each start of a server, and until they were once set
    up completely (a server another process started, maybe from an older layout)."""
    return server.started_here or not embedded_pg.setup_done(server.data_dir, step)


def _console_database(server: embedded_pg.EmbeddedServer, *, say: Callable[[str], object]) -> str:
    if _needs_setup(server, CONSOLE_ROLE):
        password = embedded_pg.ensure_role(server, CONSOLE_ROLE, createdb=True)  # createdb: the test database
        for note in _retire_user_databases(server):
            say(note)
        for name in _databases(server):
            embedded_pg.ensure_database(server, name, owner=CONSOLE_ROLE)
        embedded_pg.ensure_database(server, CONSOLE_DATABASE, owner=CONSOLE_ROLE)
        embedded_pg.mark_setup_done(server.data_dir, CONSOLE_ROLE)
    else:
        password = embedded_pg.role_password(server.data_dir, CONSOLE_ROLE) or ""
    return server.url(CONSOLE_ROLE, password, CONSOLE_DATABASE)


def _demo_database(server: embedded_pg.EmbeddedServer) -> str:
    if _needs_setup(server, DEMO_ROLE):
        password = embedded_pg.ensure_role(server, DEMO_ROLE, replication=True)
        embedded_pg.ensure_database(server, DEMO_DATABASE, owner=DEMO_ROLE)
        embedded_pg.mark_setup_done(server.data_dir, DEMO_ROLE)
    else:
        password = embedded_pg.role_password(server.data_dir, DEMO_ROLE) or ""
    return server.url(DEMO_ROLE, password, DEMO_DATABASE)


def _databases(server: embedded_pg.EmbeddedServer) -> list[str]:
    with embedded_pg.connect(server.superuser_url()) as conn:
        return [
            str(row[0])
            for row in conn.execute(
                "SELECT datname FROM pg_database "
                "WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres'"
            )
        ]


def _retire_user_databases(server: embedded_pg.EmbeddedServer) -> list[str]:
    """On the console's server, undo what the single-server layout left: the demo database lived
    there (it moved to the demo server), and Pulse's replication slots for databases on it — which
    no user's connection string may reach any more — would hold its WAL forever."""
    from psycopg import sql

    notes: list[str] = []
    with embedded_pg.connect(server.superuser_url()) as conn:
        slots = conn.execute(
            "SELECT slot_name, database, active_pid FROM pg_replication_slots ORDER BY 1"
        ).fetchall()
        for slot_name, database, active_pid in slots:
            if active_pid is not None:
                conn.execute("SELECT pg_terminate_backend(%s)", [active_pid])
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot_name])
            notes.append(
                f"Dropped the replication slot {slot_name} (database {database}) from the console's own "
                "PostgreSQL: connection strings may no longer point at that server."
            )
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DEMO_DATABASE]).fetchone():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(DEMO_DATABASE)))
            notes.append(
                "The demo database moved from the console's own PostgreSQL to a server of its own "
                "(the old copy was removed; `seeddemo` fills the new one)."
            )
    return notes


def running_urls(folder: Path) -> tuple[str, str]:
    """(console database URL, demo database URL) of the servers running for folder, port 0 where
    none runs. Reads only: for a process that skipped ``prepare`` (a bare import of the settings)."""
    urls = []
    for server_dir, role, database in (
        (console_server_dir(folder), CONSOLE_ROLE, CONSOLE_DATABASE),
        (demo_server_dir(folder), DEMO_ROLE, DEMO_DATABASE),
    ):
        port = embedded_pg.running_port(server_dir) or 0
        password = embedded_pg.role_password(server_dir.resolve(), role) or ""
        urls.append(embedded_pg.role_url(role, password, port=port, database=database))
    return urls[0], urls[1]


def stop(embedded: Embedded | None) -> list[Path]:
    """Stop the servers this process owns — it started them, or their starter is gone — never
    one that another running process started; their folders."""
    stopped = []
    for server in embedded.servers if embedded else []:
        if server.owned and embedded_pg.stop(server.data_dir):
            stopped.append(server.data_dir)
    return stopped
