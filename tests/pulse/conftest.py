"""Pulse's tests run against real servers: the embedded demo server (wal_level=logical) stands in
for a ready database, the machine's PostgreSQL 15 (wal_level=replica) for one that is not."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
import pytest
import uvicorn
from psycopg import conninfo, sql

MACHINE_POSTGRES = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def url_from_conninfo(text: str) -> str:
    values = conninfo.conninfo_to_dict(text)
    password = f":{values['password']}" if values.get("password") else ""
    return f"postgresql://{values['user']}{password}@{values['host']}:{values['port']}/{values['dbname']}"


@pytest.fixture
def source_url(source_database) -> str:
    """A postgresql:// URL of a fresh database on the embedded demo server (wal_level=logical, superuser)."""
    return url_from_conninfo(source_database)


@dataclass(frozen=True)
class MachineDatabase:
    database: str
    role: str
    url: str  # as the role without REPLICATION
    superuser_url: str
    admin: str  # conninfo of the scratch database as postgres


@pytest.fixture
def machine_database() -> Iterator[MachineDatabase]:
    """A scratch database on the machine's PostgreSQL 15 (wal_level=replica) and a role without
    REPLICATION that owns nothing in it; both dropped afterwards."""
    try:
        admin = psycopg.connect(MACHINE_POSTGRES, autocommit=True)
    except psycopg.OperationalError as error:
        message = f"The machine's PostgreSQL at 127.0.0.1:5432 is unreachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    suffix = uuid.uuid4().hex[:10]
    database, role, password = f"pulse_check_{suffix}", f"pulse_app_{suffix}", f"pw-{suffix}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
        )
        try:
            yield MachineDatabase(
                database=database,
                role=role,
                url=f"postgresql://{role}:{password}@127.0.0.1:5432/{database}",
                superuser_url=f"postgresql://postgres@127.0.0.1:5432/{database}",
                admin=f"host=127.0.0.1 port=5432 user=postgres dbname={database}",
            )
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def run_sql(conninfo_or_url: str, *statements: str) -> None:
    with psycopg.connect(conninfo_or_url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def slot_names(conninfo_or_url: str) -> list[str]:
    with psycopg.connect(conninfo_or_url, autocommit=True) as connection:
        return [
            row[0]
            for row in connection.execute(
                "SELECT slot_name FROM pg_replication_slots WHERE database = current_database() ORDER BY 1"
            )
        ]


def publication_names(conninfo_or_url: str) -> list[str]:
    with psycopg.connect(conninfo_or_url, autocommit=True) as connection:
        return [row[0] for row in connection.execute("SELECT pubname FROM pg_publication ORDER BY 1")]


class TcpProxy:
    """A TCP forwarder on a fixed local port to a database server: stopping it makes the database
    unreachable at that address (and cuts open connections), starting it again brings it back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        self._sockets.clear()


@pytest.fixture
def proxied_source(source_database) -> Iterator[tuple[str, TcpProxy]]:
    """(URL through a proxy, the proxy) for the source database; stop the proxy to take it away."""
    values = conninfo.conninfo_to_dict(source_database)
    proxy = TcpProxy(int(values["port"]))
    proxy.start()
    password = f":{values['password']}" if values.get("password") else ""
    yield f"postgresql://{values['user']}{password}@127.0.0.1:{proxy.port}/{values['dbname']}", proxy
    proxy.stop()


@dataclass
class RunningStreams:
    url: str  # http://127.0.0.1:PORT/pulse/v1/stream
    service: Any
    loop: asyncio.AbstractEventLoop
    server: Any
    thread: threading.Thread

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def stop(self) -> None:
        """Stop the server as a deployment would (SIGTERM): open streams get 2 s, then are ended."""
        self.server.should_exit = True
        self.thread.join(10)
        # A server left running would serve stale streams to later tests, and hold the test database.
        assert not self.thread.is_alive(), "the test stream server did not stop within 10 s"
        assert self.service.open_connections == 0, (
            f"{self.service.open_connections} streams still counted open"
        )


@pytest.fixture
def stream_server(transactional_db) -> Iterator[RunningStreams]:
    """Pulse's stream endpoint served by uvicorn in a thread (heartbeats every half second)."""
    from asgiref.sync import sync_to_async
    from django.db import connections
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from pulse.capture.worker import console_connect_kwargs
    from pulse.stream import service as stream_service
    from pulse.stream.app import StreamService, TargetDirectory, build_app
    from pulse.stream.hub import Hub
    from usage.metering import Meter

    service = StreamService(
        hub=Hub(console_connect_kwargs),
        directory=TargetDirectory(ttl=0.0),
        meter=Meter("pulse"),
        heartbeat=0.5,
    )
    app = Starlette(routes=[Mount("/pulse/v1", app=build_app(service))])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
    )
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        task = loop.run_until_complete(stream_service.start(service))
        loop.run_until_complete(server.serve())
        loop.run_until_complete(stream_service.stop(service, task))
        # The ORM calls (the last usage flush included) ran in asgiref's executor thread: close
        # its connections there, or the test database cannot be dropped.
        loop.run_until_complete(sync_to_async(connections.close_all)())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test stream server did not start")
        time.sleep(0.01)
    running = RunningStreams(f"http://127.0.0.1:{port}/pulse/v1/stream", service, loops[0], server, thread)
    yield running
    running.stop()


@dataclass
class Live:
    project: Any
    key: str
    url: str
    source: str

    def insert(self, *ids: int, table: str = "orders") -> None:
        run_sql(self.source, *(f"INSERT INTO {table} (id) VALUES ({i})" for i in ids))  # noqa: S608


@pytest.fixture
def live(project, source_url, stream_server) -> Iterator[Live]:
    """A project with Pulse enabled on a source database with ``orders`` and ``customers``, a key,
    the stream server and a capture worker."""
    from console.audit import Actor
    from projects.services import api_key_create
    from tests.pulse.capture_helpers import enable, running_worker

    run_sql(
        source_url,
        "CREATE TABLE orders (id int PRIMARY KEY, note text)",
        "CREATE TABLE customers (id int PRIMARY KEY)",
    )
    enable(project, source_url)
    _, key = api_key_create(project=project, name="stream test", actor=Actor.command("test"))
    with running_worker():
        yield Live(project, key, stream_server.url, source_url)


class RawStream:
    """An SSE response read frame by frame (id/event/data, or a comment)."""

    def __init__(
        self, url: str, key: str | None, headers: dict[str, str] | None = None, **query: str
    ) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        sent = {"Authorization": f"Bearer {key}"} if key else {}
        self.connection.request(
            "GET", f"{parts.path}?{urlencode(query)}", headers={**sent, **(headers or {})}
        )
        self.response = self.connection.getresponse()

    def json(self) -> dict[str, Any]:
        return json.loads(self.response.read())

    def frame(self) -> dict[str, str]:
        fields: dict[str, str] = {}
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if not line:
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                return {"comment": line[1:].strip()}
            name, _, value = line.partition(": ")
            fields[name] = value

    def event(self) -> dict[str, Any]:
        while True:
            frame = self.frame()
            if "data" in frame:
                return {**frame, "data": json.loads(frame["data"])}

    def close(self) -> None:
        self.connection.close()
