"""The project API key format (DESIGN.md section 5), with no database access.

A key is ``dpk_`` + 32 random base62 characters + 6 base62 characters of CRC32 over
the random part: 42 characters, ~190 bits of entropy. The checksum lets the data
planes refuse a mistyped or made-up key before any query; the digest (SHA-256 of the
whole key) is what the database stores and looks up.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib

KEY_PREFIX = "dpk_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits
KEY_LENGTH = len(KEY_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
DISPLAY_LENGTH = 8  # characters after the prefix shown in the console: dpk_Ab3x9QpL…

_SHAPE = re.compile(rf"{KEY_PREFIX}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}")


def base62(number: int, width: int) -> str:
    """``number`` in base62, left-padded with zeros to ``width`` characters."""
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, ALPHABET[0])


def checksum(random_part: str) -> str:
    """Six base62 characters of CRC32 over the random part."""
    return base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def key_generate() -> str:
    """A new random key with its checksum."""
    random_part = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return KEY_PREFIX + random_part + checksum(random_part)


def key_is_well_formed(raw_key: object) -> bool:
    """Whether this looks like a key we issued: the prefix, length, alphabet and checksum hold."""
    if not isinstance(raw_key, str) or len(raw_key) != KEY_LENGTH or not _SHAPE.fullmatch(raw_key):
        return False
    random_part = raw_key[len(KEY_PREFIX) : len(KEY_PREFIX) + RANDOM_LENGTH]
    return secrets.compare_digest(checksum(random_part), raw_key[-CHECKSUM_LENGTH:])


def key_digest(raw_key: str) -> str:
    """The hex SHA-256 of the whole key: what is stored and looked up, never the key itself."""
    return hashlib.sha256(raw_key.encode("ascii")).hexdigest()


def key_display_prefix(raw_key: str) -> str:
    """The characters after ``dpk_`` that the console shows to tell keys apart."""
    return raw_key[len(KEY_PREFIX) : len(KEY_PREFIX) + DISPLAY_LENGTH]
