"""Secrets for the embedded development mode, generated once and kept under ``.data/``.

Production never reaches this module: without ``DATABASE_URL`` there is no
production, and with it the settings demand real secrets from the environment.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load(path: Path) -> dict[str, str]:
    """The development secrets stored at path, or an empty dict if none were generated yet (reads only)."""
    try:
        stored: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return stored


def load_or_create(path: Path) -> dict[str, str]:
    """Return the development secrets stored at path, creating them (mode 0600) on first use."""
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        # The demo login printed by `make run`; readable words beat a random string here.
        "DEMO_PASSWORD": "demo-" + secrets.token_hex(4),
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    return values


def store(path: Path, name: str, value: str) -> None:
    """Add or replace one development secret (the file stays mode 0600)."""
    values = load_or_create(path)
    values[name] = value
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(values, handle)
    os.replace(temporary, path)
