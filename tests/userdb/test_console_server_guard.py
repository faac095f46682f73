"""The console's own database server is out of every user's reach (issue 19, point 1).

In the embedded mode the console's server and the demo server are both on 127.0.0.1: a
connection string naming the console's server — by IP, by name, by another loopback address,
with the right password even — is refused before anything connects, in every mode; the
servers refuse clients without a password; the console and the demo use roles that are not
superusers.
"""

from __future__ import annotations

import html
import socket
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from accelerate import services as accelerate_services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from devtools import bootstrap, embedded_pg
from pulse import services as pulse_services
from userdb import connection_strings
from userdb.connection_strings import DatabaseHostNotAllowed, check_addresses, resolve_allowed_address

pytestmark = pytest.mark.django_db

REFUSED = "is the console's own database server"


@pytest.fixture(autouse=True)
def _fresh_console_addresses(settings):
    settings.ACCELERATE_OPEN_ACCESS = True
    settings.PULSE_OPEN_ACCESS = True
    connection_strings._console_cache.clear()
    yield
    connection_strings._console_cache.clear()


def console_url(host: str) -> str:
    """The console's own database, with its real role and password, at ``host``."""
    db = connection.settings_dict
    return f"postgresql://{db['USER']}:{quote(db['PASSWORD'], safe='')}@{host}:{db['PORT']}/{db['NAME']}"


OWN_SERVER_HOSTS = [
    "127.0.0.1",  # by IP
    "localhost",  # by name
    "127.0.0.2",  # another loopback address (all of 127/8 is this machine)
    "127.1.2.3",
    "[::1]",  # IPv6 loopback
    "0.0.0.0",  # noqa: S104 - connecting to it reaches this machine
    "[::]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
]


@pytest.mark.parametrize("host", OWN_SERVER_HOSTS)
def test_accelerate_refuses_the_consoles_own_server_whatever_it_is_called(project, host):
    with pytest.raises(ValidationError) as refused:
        accelerate_services.accelerate_create(
            project=project,
            actor=Actor.command("test"),
            connection_string=console_url(host),
            region="eu-west-1",
        )
    assert REFUSED in refused.value.message_dict["connection_string"][0]
    assert not AccelerateConfig.objects.exists()


def test_the_machines_own_host_name_and_addresses_are_refused_too(project):
    names = [socket.gethostname()]
    names += sorted(
        {
            str(answer[4][0])
            for answer in socket.getaddrinfo(socket.gethostname(), None, type=socket.SOCK_STREAM)
        }
    )
    for name in names:
        host = f"[{name}]" if ":" in name else name
        with pytest.raises(ValidationError, match=REFUSED):
            accelerate_services.accelerate_create(
                project=project,
                actor=Actor.command("test"),
                connection_string=console_url(host),
                region="eu-west-1",
            )


def test_a_name_of_ones_own_that_resolves_to_loopback_is_refused(monkeypatch, project):
    """A DNS name the user controls, pointing at 127.0.0.1 (resolution simulated: no DNS here)."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        return real("127.0.0.1" if host == "db.attacker.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(ValidationError, match=REFUSED):
        accelerate_services.accelerate_create(
            project=project,
            actor=Actor.command("test"),
            connection_string=console_url("db.attacker.example"),
            region="eu-west-1",
        )


def test_the_accelerate_form_says_why(owner_client, project):
    response = owner_client.post(
        reverse("accelerate:configure", args=[project.organization.slug, project.pk]),
        {
            "connection_string": console_url("localhost"),
            "region": "eu-west-1",
            "connection_limit": 10,
            "pool_timeout_seconds": 10,
            "query_timeout_seconds": 10,
            "response_size_limit_mb": 5,
        },
    )
    assert REFUSED in html.unescape(response.content.decode())
    assert not AccelerateConfig.objects.exists()


def test_pulse_refuses_the_consoles_own_server(project):
    with pytest.raises(pulse_services.PulseError, match=REFUSED):
        pulse_services.pulse_enable(
            project=project,
            connection_string=console_url("127.0.0.2"),
            region="eu-west-1",
            tables=[],
            actor=Actor.command("test"),
        )


def test_another_port_on_this_machine_is_allowed(database_url):
    """The demo server (the tests' users' server) is on 127.0.0.1 too, on a port of its own."""
    parsed = connection_strings.parse(database_url())
    assert parsed.port != connection.settings_dict["PORT"]
    assert resolve_allowed_address("127.0.0.1", parsed.port) == "127.0.0.1"
    assert connection_strings.connection_check(database_url(), timeout=5).version


def test_a_remote_console_server_is_refused_by_address_and_port_in_production(monkeypatch):
    """Production mode: the console's database elsewhere; the same address and port is refused
    whatever name leads there, another port of that host is not."""
    monkeypatch.setattr(connection_strings, "_console_server", lambda: ("93.184.216.34", 5432))
    for addresses in (["93.184.216.34"], ["1.1.1.1", "93.184.216.34"], ["::ffff:93.184.216.34"]):
        with pytest.raises(DatabaseHostNotAllowed, match=REFUSED):
            check_addresses("db.example.com", addresses, port=5432, allow_private=False)
    assert (
        check_addresses("db.example.com", ["93.184.216.34"], port=5433, allow_private=False)
        == "93.184.216.34"
    )
    assert check_addresses("db.example.com", ["1.1.1.1"], port=5432, allow_private=False) == "1.1.1.1"


def test_a_console_server_on_this_machine_in_production_keeps_every_local_address_out(monkeypatch):
    monkeypatch.setattr(connection_strings, "_console_server", lambda: ("localhost", 5432))
    for address in ("127.0.0.1", "127.0.0.53", "::1", "0.0.0.0"):  # noqa: S104
        with pytest.raises(DatabaseHostNotAllowed, match=REFUSED):
            check_addresses("somewhere", [address], port=5432, allow_private=True)
    assert check_addresses("somewhere", ["127.0.0.1"], port=5433, allow_private=True) == "127.0.0.1"


def test_the_embedded_servers_refuse_clients_without_a_password():
    folder = bootstrap.data_dir()
    for server_dir in (bootstrap.console_server_dir(folder), bootstrap.demo_server_dir(folder)):
        port = embedded_pg.running_port(server_dir)
        assert port is not None
        for user in ("postgres", "console", "demo"):
            with pytest.raises(psycopg.OperationalError, match="no password supplied"):
                psycopg.connect(
                    host="127.0.0.1", port=port, user=user, dbname="postgres", passfile="/dev/null/none"
                ).close()
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                psycopg.connect(
                    host="127.0.0.1", port=port, user=user, password="guess", dbname="postgres"
                ).close()


def test_the_console_and_the_demo_connect_as_roles_that_are_not_superusers():
    query = "SELECT rolname, rolsuper, rolreplication FROM pg_roles WHERE rolname = current_user"
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert cursor.fetchone() == ("console", False, False)
        cursor.execute("SELECT pg_has_role(current_user, 'pg_execute_server_program', 'USAGE')")
        assert cursor.fetchone() == (False,)
    with psycopg.connect(settings.DEMO_DATABASE_URL) as demo:
        assert demo.execute(query).fetchone() == ("demo", False, True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            demo.execute("COPY (SELECT 1) TO PROGRAM 'true'")
