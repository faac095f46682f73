from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accelerate.demo import demo_prisma_url
from console.audit import Actor
from console.demo import DEMO_ORGANIZATION_SLUG
from console.selectors import organization_get


class Command(BaseCommand):
    help = (
        "Print the demo project's Accelerate connection string for Prisma Client "
        "(prisma+postgres://HOST:PORT/?api_key=…; embedded mode, after `make run` seeded the demo)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get(slug=DEMO_ORGANIZATION_SLUG)
        url = None
        if organization is not None:
            url = demo_prisma_url(organization=organization, actor=Actor.command("demoprismaurl"))
        if url is None:
            raise CommandError(
                "There is no demo here: run `make run` (embedded mode, DATABASE_URL unset) first."
            )
        self.stdout.write(url)
