from __future__ import annotations

import ipaddress
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from console import throttling


class Command(BaseCommand):
    help = (
        "Lift the sign-in pause of an account (after too many failed logins) and/or of a client "
        "address (after password spraying from it), and forget their counted failures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", nargs="?", default="", help="The account's email.")
        parser.add_argument("--address", default="", help="A client IP address (as the audit log shows it).")

    def handle(self, *args: Any, **options: Any) -> None:
        email, address = options["email"].strip(), options["address"].strip()
        if not email and not address:
            raise CommandError("Name the account's email, a client address (--address), or both.")
        if address:
            try:
                address = str(ipaddress.ip_address(address))
            except ValueError:
                raise CommandError(f"“{address}” is not an IP address.") from None
        lifted = throttling.login_lockout_lift(email=email, ip_address=address)
        who = " and ".join(filter(None, [email, address and f"the address {address}"]))
        if lifted.paused:
            self.stdout.write(f"Lifted the sign-in pause of {who}; they can sign in now.")
        else:
            counted = f" ({lifted.failures} failed attempts forgotten)" if lifted.failures else ""
            self.stdout.write(f"{who} was not paused{counted}; nothing else to lift.")
