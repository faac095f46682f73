"""The Pulse tab's live tail: the latest captured events, refreshed by htmx polling."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone

from pulse.models import PulseEvent
from tests.pulse.capture_helpers import enable
from tests.pulse.conftest import run_sql

pytestmark = pytest.mark.django_db(transaction=True)


def add_event(project, model: str, action: str, payload: dict, lsn: int) -> PulseEvent:
    return PulseEvent.objects.create(
        project=project,
        model_name=model,
        action=action,
        payload=payload,
        lsn=lsn,
        position=0,
        seq=lsn,  # one event per transaction here: the project's numbering follows the LSNs
        committed_at=timezone.now(),
    )


def test_the_tab_and_its_polled_partial_show_the_latest_events_newest_first(
    owner_client, project, source_url, outsider_client
):
    run_sql(source_url, "CREATE TABLE users (id int PRIMARY KEY)")
    enable(project, source_url)
    url = reverse("pulse:events", args=[project.organization.slug, project.pk])
    tab = owner_client.get(reverse("pulse:tab", args=[project.organization.slug, project.pk]))
    assert "No events captured yet" in tab.content.decode()
    assert f'hx-get="{url}"' in tab.content.decode()
    add_event(project, "users", "create", {"created": {"id": 1, "email": "ada@example.com"}}, 1)
    add_event(project, "posts", "delete", {"deleted": {"id": 9}}, 2)
    page = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert page.index("posts") < page.index("users")
    assert "ada@example.com" in page and "delete" in page
    assert owner_client.get(url).status_code == 302  # without htmx: the tab itself
    assert outsider_client.get(url, headers={"HX-Request": "true"}).status_code == 404


def test_the_demo_enables_pulse_on_the_demo_database_and_demo_insert_is_captured(
    demo_sandbox, capsys, monkeypatch
):
    from django.core.management import call_command

    from console.demo import DEMO_ORGANIZATION_SLUG
    from projects.models import Project
    from pulse.models import PulseConfig
    from tests.pulse.capture_helpers import events, running_worker

    for _ in range(2):  # idempotent
        monkeypatch.setattr("sys.stdin", io.StringIO("demo-password-1\n"))
        call_command("seeddemo", "--password-stdin")
    out = capsys.readouterr().out
    assert "make demo-insert" in out and "/pulse/v1/stream?model=users" in out
    project = Project.objects.get(organization__slug=DEMO_ORGANIZATION_SLUG)
    assert PulseConfig.objects.get(project=project).enabled
    with running_worker():
        call_command("demoinsert")
        user, post = events(project, 2)
    assert (user["model"], user["action"]) == ("users", "create")
    assert user["created"]["email"].startswith("demo-")
    assert post["model"] == "posts" and post["created"]["author_id"] == user["created"]["id"]
