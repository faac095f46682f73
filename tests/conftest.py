from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from django.test import Client
from psycopg import sql

from console.models import Membership, Organization, Role, User
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory, UserFactory


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: they are the slowest, and they relax Django's async-safety check."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (login throttling and cached lookups live there)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def server_conninfo(database: str) -> str:
    """A conninfo for another database on the server that holds the test database."""
    from django.db import connections

    params = connections["default"].get_connection_params()
    parts = {
        "host": params.get("host"),
        "port": params.get("port"),
        "user": params.get("user"),
        "dbname": database,
    }
    if params.get("password"):
        parts["password"] = params["password"]
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


@pytest.fixture
def source_database(django_db_blocker) -> Iterator[str]:
    """A fresh, empty database on the test server (wal_level=logical on the embedded one),
    standing in for a user's database; dropped afterwards with any replication slots in it."""
    name = f"source_{uuid.uuid4().hex[:12]}"
    with django_db_blocker.unblock():
        admin = server_conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield server_conninfo(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        for (slot,) in conn.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s", [name]):
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def demo_sandbox(settings, tmp_path, source_database):
    """Run the demo seeding without touching the developer's own demo: its secrets go to a
    temporary folder and its ``demo`` database is a fresh one, dropped afterwards."""
    settings.DATA_DIR = tmp_path
    settings.DEMO_DATABASE = psycopg.conninfo.conninfo_to_dict(source_database)["dbname"]
    return source_database


@pytest.fixture
def user(db) -> User:
    return UserFactory()


@pytest.fixture
def organization(db) -> Organization:
    return OrganizationFactory()


@pytest.fixture
def member_factory(db) -> Callable[..., Membership]:
    """member_factory(organization, role) -> a new user's membership with that role."""

    def make(organization: Organization, role: str = Role.OWNER) -> Membership:
        return MembershipFactory(organization=organization, role=role)

    return make


@pytest.fixture
def owner(organization, member_factory) -> User:
    return member_factory(organization, Role.OWNER).user


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@pytest.fixture
def project(organization):
    return ProjectFactory(organization=organization)


@pytest.fixture
def outsider_client(db) -> Client:
    """A signed-in user who belongs to another organization only."""
    outsider = MembershipFactory().user
    client = Client()
    client.force_login(outsider)
    return client


@pytest.fixture
def database_url(db) -> Callable[..., str]:
    """database_url(user=, password=, database=, query=) -> a postgresql:// URL of the test database server.

    A real server for the connection checks the products make; the defaults reach the test database.
    """
    from urllib.parse import quote

    from django.db import connection

    config = connection.settings_dict

    def make(
        *, user: str | None = None, password: str | None = None, database: str | None = None, query: str = ""
    ) -> str:
        userinfo = quote(user or config["USER"], safe="")
        secret = config["PASSWORD"] if password is None else password
        if secret:
            userinfo += ":" + quote(secret, safe="")
        name = quote(database or config["NAME"], safe="")
        url = f"postgresql://{userinfo}@{config['HOST']}:{config['PORT']}/{name}"
        return url + (f"?{query}" if query else "")

    return make


@pytest.fixture
def throwaway_redis():
    """A Redis server of this test's own (tests/redis_server.py), to take away mid-test."""
    import os

    from tests.redis_server import ThrowawayRedis

    try:
        server = ThrowawayRedis()
    except FileNotFoundError as missing:
        if os.environ.get("CI") == "true":
            pytest.fail(str(missing))
        pytest.skip(str(missing))
    server.start()
    yield server
    server.kill()
