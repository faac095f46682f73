"""The Pulse tab's live tail: the latest captured events, refreshed by htmx polling."""

from __future__ import annotations

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
