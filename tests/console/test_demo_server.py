"""The demo database: an unprivileged role's, printed by `make run`; stored strings follow the demo
server when another program took its port; the demo of the single-server layout is moved over."""

from __future__ import annotations

import io
import re

import psycopg
import pytest
from django.core.management import call_command

from accelerate import services as accelerate_services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from console.demo import DEMO_ORGANIZATION_SLUG
from console.models import AuditEvent
from projects.models import Project
from pulse.models import PulseConfig
from tests.factories import ProjectFactory
from tests.pulse.capture_helpers import events, running_worker
from tests.pulse.conftest import TcpProxy
from userdb.connection_strings import parse
from userdb.encryption import decrypt, encrypt

pytestmark = pytest.mark.django_db(transaction=True)


def seeddemo(monkeypatch, *args: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("demo-password-1\n"))
    out = io.StringIO()
    call_command("seeddemo", "--password-stdin", *args, stdout=out)
    return out.getvalue()


def demo_project() -> Project:
    return Project.objects.get(organization__slug=DEMO_ORGANIZATION_SLUG)


def test_make_run_prints_the_demo_database_as_its_unprivileged_role(monkeypatch, demo_sandbox, settings):
    out = seeddemo(monkeypatch)
    printed = re.search(r"^  (postgresql://\S+)$", out, re.MULTILINE)
    assert printed, out
    assert printed.group(1) == demo_sandbox
    with psycopg.connect(printed.group(1)) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (
            False,
        )
        assert conn.execute("SELECT count(*) >= 3 FROM users").fetchone() == (True,)
    project = demo_project()
    for stored in (
        AccelerateConfig.objects.get(project=project).connection_string,
        PulseConfig.objects.get(project=project).connection_string,
    ):
        assert decrypt(stored) == demo_sandbox  # the demo role's string, never a superuser's
    # Pulse's publication is the demo role's own, for its two tables.
    assert PulseConfig.objects.get(project=project).tables == ["public.users", "public.posts"]


def test_stored_strings_follow_the_demo_server_to_its_new_port(
    monkeypatch, demo_sandbox, settings, database_url
):
    seeddemo(monkeypatch)
    old_port = parse(demo_sandbox).port
    # A project of the user's own on the same server, and one elsewhere that must not change.
    own = ProjectFactory()
    accelerate_services.accelerate_create(
        project=own, actor=Actor.command("test"), connection_string=demo_sandbox, region="eu-west-1"
    )
    elsewhere = ProjectFactory()
    AccelerateConfig.objects.create(
        project=elsewhere,
        connection_string=encrypt(f"postgresql://app:pw@db.example.com:{old_port}/app"),
        database_display=f"postgresql://app:••••@db.example.com:{old_port}/app",
        region="eu-west-1",
    )
    # The server "moves": the same server, reached through another port from now on.
    proxy = TcpProxy(old_port)
    proxy.start()
    try:
        settings.DEMO_DATABASE_URL = parse(demo_sandbox).with_port(proxy.port)
        out = seeddemo(monkeypatch, f"--demo-server-moved-from={old_port}")
        assert f"The demo server moved from port {old_port} to {proxy.port}." in out
        assert f"Accelerate of the project “{own.name}” now connects to port {proxy.port}." in out
        assert f"Pulse of the project “Demo project” now captures from port {proxy.port}." in out
        for project in (demo_project(), own):
            config = AccelerateConfig.objects.get(project=project)
            assert parse(decrypt(config.connection_string)).port == proxy.port
            assert f":{proxy.port}/" in config.database_display
        pulse = PulseConfig.objects.get(project=demo_project())
        assert parse(decrypt(pulse.connection_string)).port == proxy.port
        assert f":{proxy.port}/" in pulse.database_label
        assert decrypt(AccelerateConfig.objects.get(project=elsewhere).connection_string).endswith(
            f":{old_port}/app"
        )
        assert AuditEvent.objects.filter(action="pulse.database_moved").count() == 1
        # Capture resumes from the same slot at the new address.
        with running_worker():
            call_command("demoinsert", stdout=io.StringIO())
            user, _ = events(demo_project(), 2)
        assert user["created"]["email"].startswith("demo-")
    finally:
        proxy.stop()


def test_the_demo_of_the_single_server_layout_is_pointed_at_the_demo_server(
    monkeypatch, demo_sandbox, settings
):
    """Before, the demo's configurations held postgresql://postgres@127.0.0.1:<console port>/demo;
    the next seeding points both at the demo database on the demo server, as its own role."""
    seeddemo(monkeypatch)
    project = demo_project()
    name = parse(demo_sandbox).database
    old = f"postgresql://postgres@127.0.0.1:1/{name}"  # the old server is gone (port 1: nothing there)
    AccelerateConfig.objects.filter(project=project).update(connection_string=encrypt(old))
    PulseConfig.objects.filter(project=project).update(
        connection_string=encrypt(old), slot_name="console_pulse_gone"
    )
    out = seeddemo(monkeypatch)
    assert "Accelerate of the demo project now uses the demo database on its own server." in out
    assert "Pulse of the demo project now captures from the demo database on its own server." in out
    assert decrypt(AccelerateConfig.objects.get(project=project).connection_string) == demo_sandbox
    pulse = PulseConfig.objects.get(project=project)
    assert pulse.enabled and decrypt(pulse.connection_string) == demo_sandbox
    with running_worker():
        call_command("demoinsert", stdout=io.StringIO())
        user, post = events(project, 2)
    assert post["created"]["author_id"] == user["created"]["id"]
