"""Secrets at rest: MultiFernet over ``settings.SECRET_ENCRYPTION_KEYS`` (DESIGN.md section 6).

The first key encrypts; every key decrypts, so an operator rotates by putting a new key
first, running ``manage.py reencryptsecrets``, then dropping the old key.

Encryption is explicit, at the service level, and not a transparent model field: the
column is an :class:`EncryptedTextField`, which only ever holds ciphertext (it refuses to
store anything that is not a Fernet token), and code calls :func:`decrypt` at the one
place the plaintext is needed (checking or opening a connection). Why not decrypt on
load: a plaintext on every loaded model instance is one ``repr``, admin form, template or
error report away from being shown; and with a wrong key, a transparent field would make
every query that loads the row fail (admin lists, cascading project deletes) instead of
failing, clearly, where the secret is used. Rotation also works on the raw column
without materialising plaintext in model instances.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

_TOKEN = re.compile(r"(?:[A-Za-z0-9_-]{4})+(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?")


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key. Never silently ignored."""


@lru_cache(maxsize=4)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    if not keys:
        raise ImproperlyConfigured("SECRET_ENCRYPTION_KEYS must name at least one key.")
    try:
        fernets = [Fernet(key.strip().encode()) for key in keys]
    except (ValueError, binascii.Error) as error:
        raise ImproperlyConfigured(
            "Every SECRET_ENCRYPTION_KEYS entry must be a Fernet key (32 url-safe base64-encoded bytes)."
        ) from error
    return MultiFernet(fernets), fernets[0]


def _keys() -> tuple[MultiFernet, Fernet]:
    return _fernets(tuple(settings.SECRET_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    """The plaintext encrypted under the newest key, as a Fernet token (ASCII text)."""
    return _keys()[0].encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext of a token made by :func:`encrypt` under any configured key.

    Raises DecryptionError when no configured key opens it (a key was removed or changed).
    """
    try:
        return _keys()[0].decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            "A stored secret could not be decrypted with any key in SECRET_ENCRYPTION_KEYS "
            "(was the key that encrypted it removed?)."
        ) from None


def is_encrypted(value: str) -> bool:
    """Whether the value has the shape of a Fernet token (version byte, timestamp, IV, HMAC)."""
    if not _TOKEN.fullmatch(value):
        return False
    raw = base64.urlsafe_b64decode(value.encode("ascii"))
    # 1 version byte + 8 timestamp + 16 IV + at least one 16-byte block + 32 HMAC.
    return len(raw) >= 73 and raw[0] == 0x80


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """A text column that holds a Fernet token and never a plaintext.

    It does not encrypt by itself (see the module docstring for why): services call
    :func:`encrypt` before assigning and :func:`decrypt` where the plaintext is needed.
    Saving a value that is not a token raises ValueError, so a forgotten ``encrypt``
    cannot write a secret in the clear. ``reencryptsecrets`` finds every such column.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value and not is_encrypted(value):
            raise ValueError(f"{self.model.__name__}.{self.name} only stores encrypted values.")
        return value


@dataclass(frozen=True)
class RotationResult:
    reencrypted: int
    from_older_keys: int


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) whose column is an EncryptedTextField, across all installed apps."""
    return [
        (model, field.name)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, EncryptedTextField) and field.concrete
    ]


@transaction.atomic
def secrets_reencrypt() -> RotationResult:
    """Re-encrypt every stored secret of every app under the newest key, all or nothing.

    Raises DecryptionError (and changes nothing) if any secret cannot be decrypted.
    """
    multi, newest = _keys()
    total = older = 0
    for model, field_name in encrypted_fields():
        rows = (
            model._default_manager.select_for_update()
            .exclude(**{f"{field_name}__isnull": True})
            .exclude(**{field_name: ""})
            .values_list("pk", field_name)
        )
        for pk, token in rows.iterator():
            try:
                newest.decrypt(token.encode("ascii"))
            except InvalidToken:
                older += 1
            try:
                rotated = multi.rotate(token.encode("ascii")).decode("ascii")
            except InvalidToken:
                raise DecryptionError(
                    f"{model._meta.label}.{field_name} of row {pk} could not be decrypted with any key "
                    "in SECRET_ENCRYPTION_KEYS; nothing was re-encrypted."
                ) from None
            model._default_manager.filter(pk=pk).update(**{field_name: rotated})
            total += 1
    return RotationResult(reencrypted=total, from_older_keys=older)
