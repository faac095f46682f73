"""The embedded servers: passwords always, a port kept across restarts, and a folder from before
(trust, one server holding the demo) migrated on its next start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from devtools import bootstrap, embedded_pg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server_dir(server_tmp) -> Path:
    folder = server_tmp / "pg"
    yield folder
    embedded_pg.stop(folder)


def no_password(port: int, user: str = "postgres") -> str:
    return f"host=127.0.0.1 port={port} user={user} dbname=postgres passfile=/dev/null/none connect_timeout=5"


def test_a_new_server_asks_for_a_password_and_keeps_its_secrets_private(server_dir):
    server = embedded_pg.ensure_running(server_dir)
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(no_password(server.port)).close()
    with psycopg.connect(server.superuser_url()) as conn:
        assert conn.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    state = embedded_pg.state_path(server_dir.resolve())
    assert state.stat().st_mode & 0o777 == 0o600
    assert server.superuser_password in state.read_text()


def test_the_port_is_kept_across_restarts_and_changed_only_when_taken(server_dir):
    first = embedded_pg.ensure_running(server_dir)
    assert first.started_here and first.moved_from is None
    embedded_pg.stop(server_dir)
    again = embedded_pg.ensure_running(server_dir)
    assert (again.port, again.moved_from) == (first.port, None)
    embedded_pg.stop(server_dir)

    with socket.socket() as squatter:  # another program takes the port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", first.port))
        squatter.listen()
        moved = embedded_pg.ensure_running(server_dir)
    assert moved.port != first.port and moved.moved_from == first.port
    assert embedded_pg.pending_moves(server_dir) == [first.port]
    with psycopg.connect(moved.superuser_url()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    embedded_pg.moves_done(server_dir, [first.port])
    assert embedded_pg.pending_moves(server_dir) == []

    embedded_pg.stop(server_dir)
    assert embedded_pg.ensure_running(server_dir).port == moved.port  # the new port is kept now


def test_roles_made_here_are_never_superusers(server_dir):
    server = embedded_pg.ensure_running(server_dir)
    password = embedded_pg.ensure_role(server, "app", replication=True)
    assert embedded_pg.ensure_role(server, "app", replication=True) == password  # kept, not changed
    embedded_pg.ensure_database(server, "app", owner="app")
    with psycopg.connect(server.url("app", password, "app")) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolreplication, rolcreaterole, "
            "(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app') "
            "FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, True, False, "app")


def _trusting_server(folder: Path) -> int:
    """A data folder as the single-server layout made it: trust for every loopback client, the
    console's tables owned by the superuser, a demo database with a Pulse slot in it."""
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    embedded_pg._prepare_root(folder)
    embedded_pg._pg(
        "initdb", "--auth=trust", "--encoding=UTF8", "--locale=C", "-U", "postgres", "-D", str(folder)
    )
    with open(folder / "postgresql.conf", "a") as conf:
        conf.write("listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\nwal_level = logical\n")
    port = embedded_pg._free_port()
    embedded_pg._start(folder, port)
    with psycopg.connect(no_password(port), autocommit=True) as conn:
        conn.execute("CREATE DATABASE console")
        conn.execute("CREATE DATABASE demo")
    with psycopg.connect(
        no_password(port).replace("dbname=postgres", "dbname=console"), autocommit=True
    ) as conn:
        conn.execute("CREATE TABLE console_user (id serial PRIMARY KEY, email text)")
        conn.execute("INSERT INTO console_user (email) VALUES ('ada@example.com')")
    with psycopg.connect(
        no_password(port).replace("dbname=postgres", "dbname=demo"), autocommit=True
    ) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot('console_pulse_old', 'pgoutput')")
    embedded_pg._pg("pg_ctl", "-w", "-D", str(folder), "-m", "fast", "stop")
    return port


def test_a_folder_that_trusted_every_client_is_migrated_on_its_next_start(server_tmp):
    data = server_tmp / "data"
    _trusting_server(data / "postgres")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "EMBEDDED_DATABASE_URL"}}
    script = (
        "from devtools import bootstrap; e = bootstrap.prepare(); "
        "print(e.console.port, e.database_url, e.demo_database_url)"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**env, "CONSOLE_DATA_DIR": str(data)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        port, console_url, demo_url = result.stdout.split()
        # What the terminal is told.
        assert "Dropped the replication slot console_pulse_old (database demo)" in result.stderr
        assert "The demo database moved from the console's own PostgreSQL" in result.stderr

        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(no_password(int(port))).close()
        with psycopg.connect(console_url) as conn:  # the console's data, now its own role's
            assert conn.execute("SELECT email FROM console_user").fetchall() == [("ada@example.com",)]
            assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
                False,
            )
            assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = 'demo'").fetchone() == (0,)
            conn.execute("ALTER TABLE console_user ADD COLUMN name text")  # migrations can run
        with psycopg.connect(demo_url) as conn:  # the demo on a server of its own
            assert conn.execute("SELECT inet_server_port() <> %s", [int(port)]).fetchone() == (True,)
    finally:
        embedded_pg.stop(bootstrap.console_server_dir(data))
        embedded_pg.stop(bootstrap.demo_server_dir(data))


def test_a_server_whose_credentials_are_lost_says_how_to_recover(server_dir):
    embedded_pg.ensure_running(server_dir)
    embedded_pg.stop(server_dir)
    embedded_pg.state_path(server_dir.resolve()).unlink()
    with pytest.raises(RuntimeError, match="credentials .* are missing"):
        embedded_pg.ensure_running(server_dir)


def test_a_server_whose_starter_is_gone_is_taken_over_one_whose_starter_runs_is_not(server_dir):
    """`manage.py migrate` in a fresh clone starts the servers and exits: the next `make run`
    stops them on Ctrl-C. A server that a running `make run` started is never another's to stop."""
    start = (
        "from pathlib import Path; from devtools import embedded_pg; "
        f"server = embedded_pg.ensure_running(Path({str(server_dir)!r}))"
    )
    subprocess.run([sys.executable, "-c", start], cwd=ROOT, check=True, timeout=120)
    adopted = embedded_pg.ensure_running(server_dir)
    assert (adopted.started_here, adopted.owned) == (False, True)
    assert embedded_pg.ensure_running(server_dir).owned  # still this process's
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            start.replace("embedded_pg.ensure_running(", "print(embedded_pg.ensure_running(") + ".owned)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert other.stdout.strip() == "False", other.stderr  # this process, its owner, still runs
