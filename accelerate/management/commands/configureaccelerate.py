from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accelerate import selectors, services
from accelerate.models import (
    CONNECTION_LIMIT,
    POOL_TIMEOUT_SECONDS,
    QUERY_TIMEOUT_SECONDS,
    RESPONSE_SIZE_LIMIT_MB,
)
from console.audit import Actor
from projects.selectors import project_get


class Command(BaseCommand):
    help = (
        "Configure Accelerate for a project (or change its configuration), checking the database first, "
        "exactly as the console's form does."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", help="The project's id (a UUID).")
        parser.add_argument("--url", required=True, help="The database's PostgreSQL connection string.")
        parser.add_argument("--region", required=True, help="Where the connection pool runs, e.g. us-east-1.")
        parser.add_argument("--connection-limit", type=int, default=CONNECTION_LIMIT[2])
        parser.add_argument("--pool-timeout", type=int, default=POOL_TIMEOUT_SECONDS[2], help="Seconds.")
        parser.add_argument("--query-timeout", type=int, default=QUERY_TIMEOUT_SECONDS[2], help="Seconds.")
        parser.add_argument("--response-size-limit", type=int, default=RESPONSE_SIZE_LIMIT_MB[2], help="MB.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        arguments = {
            "actor": Actor.command("configureaccelerate"),
            "connection_string": options["url"],
            "region": options["region"],
            "connection_limit": options["connection_limit"],
            "pool_timeout_seconds": options["pool_timeout"],
            "query_timeout_seconds": options["query_timeout"],
            "response_size_limit_mb": options["response_size_limit"],
        }
        existing = selectors.accelerate_config_for_project(project=project)
        try:
            if existing is None:
                config = services.accelerate_create(project=project, **arguments)
            else:
                config = services.accelerate_update(config=existing, **arguments)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        state = "enabled" if config.enabled else "configured but disabled"
        self.stdout.write(
            f"Accelerate is {state} for {project.name} in {config.region}: {config.database_display} "
            f"(PostgreSQL {config.server_version}), connection limit {config.connection_limit}."
        )
