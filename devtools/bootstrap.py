"""Prepare the embedded development mode where a process starts, never when settings are read.

Called by every entry point before Django reads its settings: ``manage.py``, ``config/asgi.py``,
``config/wsgi.py``, the dev server (``make run``) and the test plugin. With ``DATABASE_URL`` set
(production) it does nothing. Without it, it makes sure the development secrets exist under
``.data/`` and the embedded PostgreSQL runs, and tells the settings where the server listens
through the environment (``EMBEDDED_DATABASE_URL``), so ``config/settings.py`` only reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from devtools import devsecrets, embedded_pg

BASE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Where the embedded mode keeps its data and secrets (``CONSOLE_DATA_DIR``, default ``.data/``)."""
    return Path(os.environ.get("CONSOLE_DATA_DIR", BASE_DIR / ".data"))


def prepare() -> embedded_pg.EmbeddedServer | None:
    """In the embedded mode: secrets generated (once) and the server running; returns the server.

    Idempotent and safe across processes (the server start takes a file lock). ``None`` in
    production mode, where there is nothing to prepare.
    """
    if os.environ.get("DATABASE_URL"):
        return None
    folder = data_dir()
    devsecrets.load_or_create(folder / "secrets.json")
    (folder / "staticfiles").mkdir(parents=True, exist_ok=True)  # STATIC_ROOT, which WhiteNoise expects
    server = embedded_pg.ensure_running(folder / "postgres")
    os.environ["EMBEDDED_DATABASE_URL"] = server.url()
    return server
