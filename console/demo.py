"""The demo organization and login that `make run` seeds (the core's part of it)."""

from __future__ import annotations

import os

from django.db import transaction

from console import services
from console.audit import Actor
from console.models import Membership, Organization, Role, User

DEMO_EMAIL = "demo@example.com"
DEMO_ORGANIZATION_SLUG = "demo"


@transaction.atomic
def demo_seed_core(*, password: str) -> tuple[User, Organization]:
    """Make sure the demo user (with this password) owns the demo organization. Idempotent."""
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        user = services.user_create(email=DEMO_EMAIL, password=password, name="Demo User")
    else:
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    organization = Organization.objects.filter(slug=DEMO_ORGANIZATION_SLUG).first()
    if organization is None:
        organization = services.organization_create(
            name="Demo Organization", slug=DEMO_ORGANIZATION_SLUG, owner=user, actor=Actor.command("seeddemo")
        )
    else:
        Membership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": Role.OWNER}
        )
    return user, organization


# A small schema for the products' demos: Accelerate queries it, Pulse captures its changes
# (REPLICA IDENTITY FULL, so updates and deletes carry the whole old row).
DEMO_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS posts (
    id serial PRIMARY KEY,
    author_id int NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title text NOT NULL,
    published boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE users REPLICA IDENTITY FULL;
ALTER TABLE posts REPLICA IDENTITY FULL;
"""
DEMO_ROWS = """
INSERT INTO users (email, name) VALUES
    ('ada@example.com', 'Ada Lovelace'),
    ('grace@example.com', 'Grace Hopper'),
    ('edsger@example.com', 'Edsger Dijkstra')
ON CONFLICT (email) DO NOTHING;
INSERT INTO posts (author_id, title, published)
SELECT id, 'Hello from ' || name, true FROM users WHERE NOT EXISTS (SELECT 1 FROM posts);
"""


def demo_database_url() -> str | None:
    """The demo database's URL, as its owner ``demo`` (an unprivileged role with REPLICATION, on
    the embedded demo server — never the console's own server), with the schema and a few rows
    created if missing. None outside the embedded development mode. Idempotent."""
    import psycopg
    from django.conf import settings

    url: str | None = settings.DEMO_DATABASE_URL if settings.EMBEDDED else None
    if not url:
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DEMO_SCHEMA)
        conn.execute(DEMO_ROWS)
    return url


def demo_connection_string_outdated(stored: str, current: str) -> bool:
    """Whether a product's stored connection string is the demo database's from before (another
    server, port, role or password: the layout before the demo had a server of its own), so the
    demo seeding should point it at ``current``. A string the user pointed elsewhere is theirs."""
    from userdb.connection_strings import ConnectionStringError, parse

    try:
        old, new = parse(stored), parse(current)
    except ConnectionStringError:
        return False
    loopback = ("127.0.0.1", "localhost", "::1")
    return stored.strip() != current.strip() and old.host in loopback and old.database == new.database


def demo_public_host() -> str:
    """Where `make run` serves the console (HOST and PORT as the dev server reads them)."""
    return f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
