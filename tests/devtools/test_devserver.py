"""`make run` as a newcomer meets it on the second day (issue 17, points 1, 3, 4 and 14): a second
run beside a running one leaves it alone; a killed Pulse worker is started again while the web
server keeps answering and an open stream keeps delivering; the demo server keeps its port, and
when another program took it, the demo follows it to the new one.

Each test starts the supervisor (`python -m devtools.devserver`) on a port and a data folder of
its own (shared by this module: the servers are created once), and stops every process it
started, even on failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from devtools import bootstrap, embedded_pg
from tests.conftest import server_folder
from tests.devserver import ROOT, DevServer, SseStream, free_port


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    base = server_folder("make-run")
    folder = base / "data"
    yield folder
    for server_dir in (bootstrap.console_server_dir(folder), bootstrap.demo_server_dir(folder)):
        embedded_pg.stop(server_dir)
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def make_run(data_dir) -> Iterator[Callable[..., DevServer]]:
    """make_run(port=None, **env) -> a started `make run`; all stopped (and killed if need be) afterwards."""
    started: list[DevServer] = []

    def start(port: int | None = None, *, wait: bool = True, **env: str) -> DevServer:
        server = DevServer(data_dir, port or free_port(), **env)
        started.append(server)
        return server.start(wait=wait)

    yield start
    for server in started:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - whatever happened, nothing may be left running
            server.kill()


def servers_running(data_dir: Path) -> list[int | None]:
    return [
        embedded_pg.running_port(bootstrap.console_server_dir(data_dir)),
        embedded_pg.running_port(bootstrap.demo_server_dir(data_dir)),
    ]


def test_a_second_make_run_beside_a_running_one_leaves_it_and_its_databases_alone(make_run, data_dir):
    first = make_run()
    assert first.query("SELECT id, email FROM users WHERE id = $1", [1])["rows"] == [[1, "ada@example.com"]]
    ports = servers_running(data_dir)
    assert None not in ports

    second = DevServer(data_dir, first.port)
    second.start(wait=False)
    assert second.process is not None
    assert second.process.wait(60) == 1
    second.kill()
    assert f"Port {first.port} on 127.0.0.1 is in use" in second.output
    assert "Stopping" not in second.output and "PostgreSQL stopped" not in second.output

    assert servers_running(data_dir) == ports  # the databases still run, where they were
    assert first.query("SELECT count(*) FROM posts")["rows"]
    assert first.process is not None and first.process.poll() is None
    assert first.stop() == 0
    assert "Embedded PostgreSQL stopped." in first.output
    assert servers_running(data_dir) == [None, None]


def test_a_killed_pulse_worker_is_started_again_while_the_web_and_an_open_stream_carry_on(make_run):
    """Issue 17.14: make run's own worker killed while a second worker stands by (the documented
    failover): the web server must not stop, and the stream opened before goes on delivering."""
    run = make_run()
    run.wait_for("reading slot", timeout=60)  # the demo's capture is running
    standby = subprocess.Popen(
        [sys.executable, "manage.py", "pulseworker"],
        cwd=ROOT,
        env={**run.env, "PULSE_LOCK_RETRY": "0.5"},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    stream = SseStream(run.base_url, run.demo_key(), "users")
    try:
        worker = run.child("pulseworker")
        web = run.child("uvicorn")
        os.kill(worker, signal.SIGKILL)
        run.wait_for("The Pulse worker was killed by SIGKILL; starting it again in 1 s", timeout=20)
        assert run.get("/login/") == 200  # the web server keeps answering meanwhile
        run.wait_for("The Pulse worker is running again", timeout=20)
        assert run.child("uvicorn") == web
        assert run.child("pulseworker") != worker

        with psycopg.connect(run.demo_database_url(), autocommit=True) as conn:
            conn.execute("INSERT INTO users (email, name) VALUES ('after-the-kill@example.com', 'After')")
        event = stream.event()  # the stream opened before the kill delivers what the new worker captured
        assert (event["event"], event["data"]["created"]["email"]) == ("create", "after-the-kill@example.com")
        assert run.get("/login/") == 200
        assert run.process is not None and run.process.poll() is None
    finally:
        stream.close()
        standby.terminate()
        try:
            standby.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(standby.pid, signal.SIGKILL)
            standby.wait(10)


def test_the_demo_server_keeps_its_port_and_follows_a_new_one_when_its_port_was_taken(make_run, data_dir):
    first = make_run()
    demo_url = first.demo_database_url()
    assert first.stop() == 0
    again = make_run(first.port)
    assert again.demo_database_url() == demo_url  # same port, same credentials
    assert again.stop() == 0

    old_port = int(demo_url.rsplit(":", 1)[1].split("/")[0])
    with socket.socket() as squatter:  # another program takes the demo server's port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        moved = make_run(first.port)
        assert (
            f"Port {old_port} of the embedded PostgreSQL (demo server) is taken by another program"
            in moved.output
        )
        new_port = embedded_pg.running_port(bootstrap.demo_server_dir(data_dir))
        assert new_port != old_port
        assert f"The demo server moved from port {old_port} to {new_port}." in moved.output
        assert "Accelerate of the project “Demo project” now connects to port" in moved.output
        assert "Pulse of the project “Demo project” now captures from port" in moved.output
        assert f":{new_port}/demo" in moved.demo_database_url()
        # The demo's curl and its Pulse capture work at the new port.
        assert moved.query("SELECT email FROM users WHERE id = $1", [1])["rows"] == [["ada@example.com"]]
        moved.wait_for("reading slot", timeout=60)
        stream = SseStream(moved.base_url, moved.demo_key(), "users")
        try:
            insert = subprocess.run(
                [sys.executable, "manage.py", "demoinsert"],
                cwd=ROOT,
                env=moved.env,
                capture_output=True,
                timeout=60,
            )
            assert insert.returncode == 0, insert.stderr
            assert stream.event()["data"]["created"]["email"].startswith("demo-")
        finally:
            stream.close()
    assert embedded_pg.pending_moves(bootstrap.demo_server_dir(data_dir)) == []
