from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from userdb.encryption import DecryptionError, encrypted_fields, secrets_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (database connection strings of every product) under the newest "
        "key in SECRET_ENCRYPTION_KEYS. Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = secrets_reencrypt()
        except DecryptionError as error:
            raise CommandError(str(error)) from None
        columns = ", ".join(f"{model._meta.label}.{name}" for model, name in encrypted_fields())
        noun = "secret" if result.reencrypted == 1 else "secrets"
        self.stdout.write(
            f"Re-encrypted {result.reencrypted} {noun} under the newest key "
            f"({result.from_older_keys} had been under an older key). Columns: {columns or 'none'}."
        )
