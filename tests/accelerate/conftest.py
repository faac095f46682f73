"""A real gateway on a real port, in front of a real user database, for the gateway's tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.db import connections
from starlette.applications import Starlette
from starlette.routing import Mount

from accelerate import services as accelerate_services
from accelerate.client import AccelerateClient
from accelerate.gateway.app import Gateway, build_app
from accelerate.gateway.cache import LocalQueryCache
from accelerate.gateway.targets import TargetDirectory
from console.audit import Actor
from projects import services as project_services
from tests.factories import MembershipFactory, ProjectFactory
from usage.metering import Meter


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RunningGateway:
    url: str
    gateway: Gateway
    clock: FakeClock
    loop: asyncio.AbstractEventLoop

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the gateway's event loop (to inspect or drive the gateway)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def gateway_server(transactional_db):
    """A gateway served by uvicorn in a thread, with a controllable cache clock."""
    clock = FakeClock()
    gateway = Gateway(
        resolver=TargetDirectory(ttl=0.0).resolve,
        cache=LocalQueryCache(clock),
        region="test-region",
        meter=Meter("accelerate"),
    )
    app = Starlette(routes=[Mount("/accelerate/v1", app=build_app(gateway))])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    loops: list[asyncio.AbstractEventLoop] = []

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        loop.run_until_complete(server.serve())
        loop.run_until_complete(gateway.close())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test gateway did not start")
        time.sleep(0.01)
    running = RunningGateway(f"127.0.0.1:{port}", gateway, clock, loops[0])
    yield running
    # The gateway's ORM calls ran in asgiref's executor thread: close its connections there,
    # or the test database cannot be dropped.
    running.call(sync_to_async(connections.close_all)())
    server.should_exit = True
    thread.join(10)


@dataclass
class AccelerateProject:
    project: Any
    key: str
    conninfo: str  # the user's database, for the test to prepare data in
    client: AccelerateClient

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def accelerate_project(gateway_server, source_database, database_url):
    """A project with Accelerate configured against a fresh user database, a key, and a client."""
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization)
    actor = Actor.command("test")
    name = psycopg.conninfo.conninfo_to_dict(source_database)["dbname"]
    accelerate_services.accelerate_create(
        project=project,
        actor=actor,
        connection_string=database_url(database=name),
        region="eu-west-1",
        connection_limit=5,
        pool_timeout_seconds=2,
        query_timeout_seconds=2,
    )
    _, key = project_services.api_key_create(project=project, name="gateway test", actor=actor)
    client = AccelerateClient(f"prisma://{gateway_server.url}/?api_key={key}")
    yield AccelerateProject(project, key, source_database, client)
    client.close()


@pytest.fixture
def items(accelerate_project):
    """The accelerate project's database with a small table of items."""
    accelerate_project.sql("CREATE TABLE items (id int PRIMARY KEY, name text, price numeric, tags jsonb)")
    accelerate_project.sql("INSERT INTO items VALUES (1, 'one', 1.50, '[\"a\"]'), (2, 'two', 2.25, NULL)")
    return accelerate_project
