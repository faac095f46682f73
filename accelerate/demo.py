"""Accelerate's part of the demo: configured for the demo project against the embedded
server's ``demo`` database, with copy-paste commands that query it through the gateway."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from accelerate import services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from console.demo import demo_database_url, demo_public_host
from console.models import Organization, User
from projects.demo import demo_api_key, demo_project


def seed(*, organization: Organization, user: User, actor: Actor, write: Callable[[str], object]) -> None:
    project = demo_project(organization=organization)
    url = demo_database_url()
    key = demo_api_key(organization=organization, actor=actor)
    if project is None or url is None or key is None:
        return
    config = AccelerateConfig.objects.filter(project=project).first()
    if config is None:
        services.accelerate_create(project=project, actor=actor, connection_string=url, region="eu-central-1")
    elif not config.enabled:
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
        "\nAccelerate (demo database `demo`), query it through the gateway:\n"
        f"  curl -s http://{host}/accelerate/v1/query -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}\n"
        f"  .venv/bin/python -c {shlex.quote(client)}"
    )
