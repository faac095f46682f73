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
    """The URL of the ``demo`` database on the embedded server, created with its schema and a
    few rows if missing; None outside the embedded development mode (there is no server of
    ours to put it on). Idempotent."""
    import psycopg
    from django.conf import settings
    from psycopg import sql

    if not settings.EMBEDDED:
        return None
    name = settings.DEMO_DATABASE
    server = f"postgresql://postgres@127.0.0.1:{settings.EMBEDDED_DATABASE_PORT}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = f"{server}/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DEMO_SCHEMA)
        conn.execute(DEMO_ROWS)
    return url


def demo_public_host() -> str:
    """Where `make run` serves the console (HOST and PORT as the dev server reads them)."""
    return f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
