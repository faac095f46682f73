"""Event ids are numbered per project: a tenant's ids say nothing about other tenants' activity,
and resuming (Last-Event-ID, acknowledgements) works on them as before."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.audit import Actor
from projects.services import api_key_create
from pulse.models import PulseStream
from tests.factories import MembershipFactory, ProjectFactory
from tests.pulse.capture_helpers import enable, events, running_worker, wait_for
from tests.pulse.conftest import RawStream, run_sql
from tests.pulse.test_stream import ack

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor.command("test")


def test_a_projects_event_ids_count_only_its_own_events(client, source_url, stream_server):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
    busy = ProjectFactory()  # another tenant, with plenty going on
    enable(busy, source_url)
    owner = MembershipFactory(role="owner")
    quiet = ProjectFactory(organization=owner.organization)
    with running_worker():
        run_sql(source_url, *(f"INSERT INTO orders (id) VALUES ({i})" for i in range(1, 31)))  # noqa: S608
        events(busy, 30)
        enable(quiet, source_url)
        _, key = api_key_create(project=quiet, name="quiet", actor=ACTOR)
        raw = RawStream(stream_server.url, key, model="orders", name="mine")
        assert raw.frame() == {"comment": "connected"}
        run_sql(source_url, "INSERT INTO orders (id) VALUES (31)", "INSERT INTO orders (id) VALUES (32)")
        first, second = raw.event(), raw.event()
        raw.close()
        # The quiet project's first events are 1 and 2, whatever the busy one logged before.
        assert (first["id"], second["id"]) == ("1", "2")
        assert (first["data"]["id"], second["data"]["id"]) == (1, 2)
        assert first["data"]["created"] == {"id": 31, "note": None}
        events(busy, 32)
        assert list(busy.pulse_events.order_by("seq").values_list("seq", flat=True)) == list(range(1, 33))

        # Resuming works on these ids: an acknowledgement, then Last-Event-ID.
        from tests.pulse.conftest import Live

        live = Live(quiet, key, stream_server.url, source_url)
        assert ack(live, "mine", 1)[1]["acknowledged"] == 1
        resumed = wait_for(lambda: _open(stream_server.url, key, name="mine"))
        assert resumed.event()["id"] == "2"
        resumed.close()
        after_one = RawStream(stream_server.url, key, headers={"Last-Event-ID": "1"}, model="orders")
        assert after_one.event()["data"]["created"] == {"id": 32, "note": None}
        after_one.close()
        assert PulseStream.objects.get(project=quiet, name="mine").acknowledged_id == 1
        # An id past the project's newest event (the busy project's, or one from before ids were
        # per project) would skip events silently: refused.
        beyond = RawStream(stream_server.url, key, headers={"Last-Event-ID": "30"}, model="orders")
        assert beyond.response.status == 400
        error = beyond.json()["error"]
        assert error["code"] == "P6005" and "newest event is 2" in error["message"]

    # The console's live tail numbers them the same way.
    client.force_login(owner.user)
    tab = client.get(reverse("pulse:tab", args=[quiet.organization.slug, quiet.pk])).content.decode()
    assert 'data-event-id="2"' in tab and 'data-event-id="1"' in tab
    assert 'data-event-id="31"' not in tab


def _open(url: str, key: str, **query: str) -> RawStream | None:
    raw = RawStream(url, key, model="orders", **query)
    if raw.response.status == 409:
        raw.close()
        return None
    return raw


def test_the_upgrade_numbers_existing_events_per_project_and_carries_acknowledgements_over():
    """Migration 0003 on a log written with global ids: each project's events become 1, 2, 3, …
    in their order, and each named stream stays acknowledged up to the same event."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    from pulse.models import PulseConfig, PulseEvent

    first, second = ProjectFactory(), ProjectFactory()
    for n, project in enumerate((first, second)):
        PulseConfig.objects.create(
            project=project, region="eu-west-1", slot_name=f"s{n}", publication_name=f"p{n}"
        )
    before, latest = [("pulse", "0002_event_log")], [("pulse", "0003_per_project_event_ids")]
    MigrationExecutor(connection).migrate(before)
    try:
        with connection.cursor() as cursor:
            # Global ids, interleaved: first has 1, 3, 5; second has 2, 4.
            for event_id, project in enumerate((first, second, first, second, first), start=1):
                cursor.execute(
                    "INSERT INTO pulse_pulseevent (id, project_id, model_name, action, payload, lsn,"
                    " position, committed_at, captured_at)"
                    " VALUES (%s, %s, 'orders', 'create', '{}', %s, 0, %s, %s)",
                    [event_id, project.pk, event_id, timezone.now(), timezone.now()],
                )
            for project, name, acknowledged in ((first, "a", 3), (second, "b", 4), (first, "new", 0)):
                cursor.execute(
                    "INSERT INTO pulse_pulsestream (project_id, name, acknowledged_id, created, updated)"
                    " VALUES (%s, %s, %s, now(), now())",
                    [project.pk, name, acknowledged],
                )
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    numbering = [(e.pk, e.project_id, e.seq) for e in PulseEvent.objects.order_by("pk")]
    assert numbering == [
        (1, first.pk, 1),
        (2, second.pk, 1),
        (3, first.pk, 2),
        (4, second.pk, 2),
        (5, first.pk, 3),
    ]
    carried_over = dict(PulseStream.objects.values_list("name", "acknowledged_id"))
    assert carried_over == {"a": 2, "b": 2, "new": 0}
    assert dict(PulseConfig.objects.values_list("project_id", "last_event_seq")) == {
        first.pk: 3,
        second.pk: 2,
    }
