from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

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


def users_server() -> tuple[int, str]:
    """(port, superuser password) of the server the tests use for users' databases: the embedded
    demo server (devtools/bootstrap.py), never the console's own server, which the connection
    string guard refuses in every mode."""
    from devtools import bootstrap, embedded_pg

    server_dir = bootstrap.demo_server_dir(bootstrap.data_dir()).resolve()
    port = embedded_pg.running_port(server_dir)
    assert port is not None, f"the embedded demo server in {server_dir} does not run"
    return port, str(embedded_pg.read_state(server_dir)["superuser_password"])


def server_conninfo(database: str) -> str:
    """A superuser conninfo for a database on the users' server (see users_server)."""
    port, password = users_server()
    return psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port=port, user="postgres", password=password, dbname=database
    )


def _drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        for (slot,) in conn.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s", [name]):
            conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def source_database() -> Iterator[str]:
    """A fresh, empty database on the users' server (wal_level=logical), standing in for a
    user's database; a superuser conninfo to it. Dropped afterwards with its replication slots."""
    name = f"source_{uuid.uuid4().hex[:12]}"
    admin = server_conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield server_conninfo(name)
    _drop_database(admin, name)


@pytest.fixture
def demo_sandbox(settings, tmp_path):
    """Run the demo seeding without touching the developer's own demo: its secrets go to a
    temporary folder, and its demo database is a fresh one owned by a fresh unprivileged role
    with REPLICATION (as bootstrap makes the real one); both dropped afterwards. Returns the
    demo database's URL."""
    suffix = uuid.uuid4().hex[:10]
    name, role, password = f"demo_{suffix}", f"demo_{suffix}", f"pw-{suffix}"
    admin = server_conninfo("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN REPLICATION PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role))
        )
    port, _ = users_server()
    settings.DATA_DIR = tmp_path
    settings.DEMO_DATABASE_URL = f"postgresql://{role}:{password}@127.0.0.1:{port}/{name}"
    yield settings.DEMO_DATABASE_URL
    _drop_database(admin, name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def server_folder(prefix: str) -> Path:
    """A fresh folder for an embedded PostgreSQL of a test's own. Not under pytest's tmp_path:
    running as root, the server runs as `pgserver` and must reach its folder, and every pytest
    session (another one on the same machine too) makes /tmp/pytest-of-root private again."""
    return Path(tempfile.mkdtemp(prefix=f"console-test-{prefix}-"))


@pytest.fixture
def server_tmp(request) -> Iterator[Path]:
    """A server_folder for this test, removed afterwards (stop its servers first)."""
    folder = server_folder(request.node.name[:40])
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


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
def database_url(db) -> Iterator[Callable[..., str]]:
    """database_url(user=, password=, database=, query=) -> a postgresql:// URL on the users' server.

    A real server for the connection checks the products make. By default the superuser and the
    ``postgres`` database; with a ``password`` and no ``user``, a role of this test's own with that
    password (it may read and write every table; dropped afterwards); with both, as given.
    """
    from urllib.parse import quote

    port, superuser_password = users_server()
    admin = server_conninfo("postgres")
    made: dict[str, str] = {}

    def role_for(password: str) -> str:
        if password not in made:
            role = f"app_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN PASSWORD {} IN ROLE pg_read_all_data, pg_write_all_data"
                    ).format(sql.Identifier(role), sql.Literal(password))
                )
            made[password] = role
        return made[password]

    def make(
        *, user: str | None = None, password: str | None = None, database: str | None = None, query: str = ""
    ) -> str:
        if user is None and password:
            user = role_for(password)
        elif user is None:
            user, password = "postgres", superuser_password if password is None else password
        userinfo = quote(user, safe="")
        if password:
            userinfo += ":" + quote(password, safe="")
        name = quote(database or "postgres", safe="")
        url = f"postgresql://{userinfo}@127.0.0.1:{port}/{name}"
        return url + (f"?{query}" if query else "")

    yield make
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in made.values():
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", [role])
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


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
