"""Pulse's tests run against real servers: the embedded PostgreSQL (wal_level=logical) stands in
for a ready database, the machine's PostgreSQL 15 (wal_level=replica) for one that is not."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import conninfo, sql

MACHINE_POSTGRES = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


def url_from_conninfo(text: str) -> str:
    values = conninfo.conninfo_to_dict(text)
    password = f":{values['password']}" if values.get("password") else ""
    return f"postgresql://{values['user']}{password}@{values['host']}:{values['port']}/{values['dbname']}"


@pytest.fixture
def source_url(source_database) -> str:
    """A postgresql:// URL of a fresh database on the embedded server (wal_level=logical, superuser)."""
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
    yield f"postgresql://{values['user']}@127.0.0.1:{proxy.port}/{values['dbname']}", proxy
    proxy.stop()
