"""Seed a drill's console (run in a subprocess with the drill's environment):

    python -m bench.drills._seed '{"user_database": "postgresql://…", "keys": 1}'

Prints one JSON line: the signed-in session cookie, the organization's slug, the project id,
and the API keys made (when ``keys``), with Accelerate configured on ``user_database`` if given
and Pulse enabled on ``pulse_database`` (every table) if given.
"""

from __future__ import annotations

import json
import os
import sys


def main(options: dict[str, object]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test import Client

    from accelerate import services as accelerate_services
    from console import services as console_services
    from console.audit import Actor
    from projects import services as project_services

    actor = Actor.command("drill")
    user = console_services.user_create(email="drill@example.com", password="drill-password-1")  # noqa: S106 - a throwaway drill account
    organization = console_services.organization_create(name="Drill", owner=user, actor=actor, slug="drill")
    project = project_services.project_create(organization=organization, name="Drill", actor=actor)
    if options.get("user_database"):
        accelerate_services.accelerate_create(
            project=project,
            actor=actor,
            connection_string=str(options["user_database"]),
            region="eu-central-1",
            connection_limit=int(str(options.get("connection_limit", 10))),
            pool_timeout_seconds=int(str(options.get("pool_timeout", 5))),
            query_timeout_seconds=5,
        )
    if options.get("pulse_database"):
        from pulse.services import pulse_enable

        pulse_enable(
            project=project,
            connection_string=str(options["pulse_database"]),
            region="eu-west-1",
            tables=[],
            actor=actor,
        )
    keys = [
        project_services.api_key_create(project=project, name=f"drill {n}", actor=actor)[1]
        for n in range(int(str(options.get("keys", 0))))
    ]
    client = Client()
    client.force_login(user)
    print(
        json.dumps(
            {
                "session": client.cookies["sessionid"].value,
                "organization": organization.slug,
                "project": str(project.pk),
                "keys": keys,
            }
        )
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
