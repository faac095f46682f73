"""Pulse's part of the demo: enabled for the demo project on the ``demo`` database of the
embedded demo server (tables users and posts, REPLICA IDENTITY FULL; the unprivileged role
``demo`` owns them and the publication), one command that inserts a row so a newcomer can
watch it arrive on the Pulse tab, and the demo server's moves."""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable

import psycopg

from console.audit import Actor
from console.demo import demo_connection_string_outdated, demo_database_url, demo_public_host
from console.models import Organization, User
from projects.demo import demo_api_key, demo_project
from pulse import relocation, services
from pulse.models import PulseConfig
from userdb.encryption import decrypt

DEMO_REGION = "eu-central-1"
# Listed, not "all tables": a publication for all tables needs a superuser, and the demo's role
# is not one — it owns these two tables, which is all a publication for them needs.
DEMO_TABLES = ["users", "posts"]


def seed(*, organization: Organization, user: User, actor: Actor, write: Callable[[str], object]) -> None:
    project = demo_project(organization=organization)
    url = demo_database_url()
    if project is None or url is None:
        return
    config = PulseConfig.objects.filter(project=project).first()
    try:
        if config is None or not config.enabled:
            services.pulse_enable(
                project=project, connection_string=url, region=DEMO_REGION, tables=DEMO_TABLES, actor=actor
            )
        elif demo_connection_string_outdated(decrypt(config.connection_string), url):
            relocation.pulse_database_move(
                project=project, connection_string=url, tables=DEMO_TABLES, actor=actor
            )
            write("Pulse of the demo project now captures from the demo database on its own server.")
    except services.PulseError as error:
        write(f"\nPulse could not be enabled for the demo project: {error.message}")
        return
    key = demo_api_key(organization=organization, actor=actor)
    host = demo_public_host()
    write(
        "\nPulse (demo database `demo`): insert a row, then watch it on the project's Pulse tab:\n"
        "  make demo-insert"
        + (
            f"\n  or stream it: curl -N -H {shlex.quote(f'Authorization: Bearer {key}')} "
            f"'http://{host}/pulse/v1/stream?model=users'"
            if key
            else ""
        )
    )


def demo_insert() -> str:
    """Insert a user and a post into the demo database; what was inserted, for the command line."""
    url = demo_database_url()
    if url is None:
        raise services.PulseError("The demo database exists only in the embedded mode (DATABASE_URL unset).")
    handle = secrets.token_hex(3)
    with psycopg.connect(url, autocommit=True) as connection, connection.transaction():
        row = connection.execute(
            "INSERT INTO users (email, name) VALUES (%s, %s) RETURNING id",
            [f"demo-{handle}@example.com", f"Demo {handle}"],
        ).fetchone()
        if row is None:
            raise services.PulseError("The demo database did not return the new user.")
        connection.execute(
            "INSERT INTO posts (author_id, title, published) VALUES (%s, %s, true)",
            [row[0], f"Post by Demo {handle}"],
        )
    return f"Inserted user {row[0]} (demo-{handle}@example.com) and a post by them, in one transaction."


def server_moved(*, old_port: int, new_port: int, actor: Actor, write: Callable[[str], object]) -> None:
    """The embedded demo server moved port: every Pulse configuration that pointed at it follows
    (the same slot on the same server: capture resumes where it was)."""
    for project in relocation.pulse_database_port_move(old_port=old_port, new_port=new_port, actor=actor):
        write(f"Pulse of the project “{project.name}” now captures from port {new_port}.")
