from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accelerate import selectors, services
from console.audit import Actor
from projects.selectors import project_get


class Command(BaseCommand):
    help = "Disable Accelerate for a project; its settings are kept, and its gateway requests get P6010."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project_id", help="The project's id (a UUID).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = project_get(project_id=options["project_id"])
        if project is None:
            raise CommandError(f"No project with the id {options['project_id']}.")
        config = selectors.accelerate_config_for_project(project=project)
        if config is None:
            raise CommandError(f"Accelerate is not configured for {project.name}.")
        if not config.enabled:
            self.stdout.write(f"Accelerate was already disabled for {project.name}.")
            return
        services.accelerate_disable(config=config, actor=Actor.command("disableaccelerate"))
        self.stdout.write(f"Accelerate is disabled for {project.name}.")
