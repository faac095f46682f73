from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from console.access import product_access_grant, product_access_revoke
from console.audit import Actor
from console.products import product_get, products_all
from console.selectors import organization_get


class Command(BaseCommand):
    help = "Give an organization access to a product in Preview (or take it away with --revoke)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization_slug")
        parser.add_argument(
            "product", help=f"One of: {', '.join(product.key for product in products_all()) or 'none'}."
        )
        parser.add_argument("--revoke", action="store_true", help="Remove the grant instead.")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = organization_get(slug=options["organization_slug"])
        if organization is None:
            raise CommandError(f"No organization with the slug {options['organization_slug']}.")
        try:
            product = product_get(options["product"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        actor = Actor.command("grantaccess")
        if options["revoke"]:
            removed = product_access_revoke(organization=organization, product=product.key, actor=actor)
            self.stdout.write(
                f"{organization.name} no longer has access to {product.name}."
                if removed
                else f"{organization.name} had no grant for {product.name}; nothing changed."
            )
            return
        try:
            _, created = product_access_grant(organization=organization, product=product.key, actor=actor)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"{organization.name} now has access to {product.name}."
            if created
            else f"{organization.name} already had access to {product.name}."
        )
