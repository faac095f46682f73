"""Accelerate's part of the demo: configured for the demo project against the ``demo`` database
on the embedded demo server (as the unprivileged role ``demo``), with copy-paste commands that
query it through the gateway; and the demo server's moves, when another program took its port."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from accelerate import services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from console.demo import demo_connection_string_outdated, demo_database_url, demo_public_host
from console.models import Organization, User
from projects.demo import demo_api_key, demo_project
from userdb.encryption import decrypt


def seed(*, organization: Organization, user: User, actor: Actor, write: Callable[[str], object]) -> None:
    project = demo_project(organization=organization)
    url = demo_database_url()
    key = demo_api_key(organization=organization, actor=actor)
    if project is None or url is None or key is None:
        return
    config = AccelerateConfig.objects.filter(project=project).first()
    if config is None:
        services.accelerate_create(project=project, actor=actor, connection_string=url, region="eu-central-1")
    else:
        if demo_connection_string_outdated(decrypt(config.connection_string), url):
            config = services.accelerate_update(
                config=config,
                actor=actor,
                connection_string=url,
                region=config.region,
                connection_limit=config.connection_limit,
                pool_timeout_seconds=config.pool_timeout_seconds,
                query_timeout_seconds=config.query_timeout_seconds,
                response_size_limit_mb=config.response_size_limit_mb,
            )
            write("Accelerate of the demo project now uses the demo database on its own server.")
        if not config.enabled:
            services.accelerate_enable(config=config, actor=actor)
    host = demo_public_host()
    body = json.dumps(
        {
            "query": "SELECT id, email, name FROM users WHERE id = $1",
            "params": [1],
            "cacheStrategy": {"ttl": 60},
        }
    )
    client = (
        "from accelerate.client import AccelerateClient; "  # noqa: S608 - Python for the reader, not SQL
        f'c = AccelerateClient("prisma://{host}/?api_key={key}"); '
        'r = c.query("SELECT count(*) AS users FROM users", cache_strategy={"ttl": 30}); '
        "print(r.rows, r.cache_status)"
    )
    write(
        "\nThe demo database (tables users and posts; use it for your own projects too):\n"
        f"  {url}\n"
        "\nAccelerate (demo database `demo`), query it through the gateway:\n"
        f"  curl -s http://{host}/accelerate/v1/query -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}\n"
        f"  .venv/bin/python -c {shlex.quote(client)}\n"
        "\nPrisma Client with withAccelerate() (examples/prisma; Node.js 20+):\n"
        f"  DATABASE_URL='prisma+postgres://{host}/?api_key={key}'\n"
        "  make prisma-example"
    )


def demo_prisma_url(*, organization: Organization, actor: Actor) -> str | None:
    """The demo project's Accelerate connection string for Prisma Client (plain HTTP on loopback:
    ``prisma+postgres://``), with the demo key; None outside the embedded mode."""
    key = demo_api_key(organization=organization, actor=actor)
    return None if key is None else f"prisma+postgres://{demo_public_host()}/?api_key={key}"


def server_moved(*, old_port: int, new_port: int, actor: Actor, write: Callable[[str], object]) -> None:
    """The embedded demo server moved port: every Accelerate configuration that pointed at it follows."""
    for config in services.accelerate_database_port_move(old_port=old_port, new_port=new_port, actor=actor):
        write(f"Accelerate of the project “{config.project.name}” now connects to port {new_port}.")
