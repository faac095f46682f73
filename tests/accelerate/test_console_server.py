"""A configuration saved before the guard existed cannot reach the console's own database server."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from accelerate.client import AccelerateClient, AccelerateError
from accelerate.models import AccelerateConfig
from console.audit import Actor
from projects import services as project_services
from tests.factories import ProjectFactory
from userdb.encryption import encrypt


@pytest.mark.django_db(transaction=True)
def test_a_configuration_stored_before_the_guard_cannot_reach_the_console_server(gateway_server):
    """A string saved before this release (the old demo's pointed at the embedded superuser):
    the gateway refuses to connect with it, so no query reaches the console's data."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}:{quote(db['PASSWORD'], safe='')}@127.0.0.1:{db['PORT']}/{db['NAME']}"
    project = ProjectFactory()
    AccelerateConfig.objects.create(
        project=project,
        connection_string=encrypt(url),
        database_display="postgresql://console:••••@127.0.0.1/console",
        region="eu-west-1",
        pool_timeout_seconds=2,
    )
    _, key = project_services.api_key_create(project=project, name="k", actor=Actor.command("test"))
    with (
        AccelerateClient(f"prisma://{gateway_server.url}/?api_key={key}") as client,
        pytest.raises(AccelerateError) as refused,
    ):
        client.query("SELECT email, password FROM console_user")
    assert "console_user" not in str(refused.value) and "argon2" not in str(refused.value)
    assert refused.value.code == "P6008"
    # Only the guard stands in the way: the string itself reaches the console's data.
    with psycopg.connect(url) as direct:
        assert direct.execute("SELECT count(*) FROM console_user").fetchone() is not None
