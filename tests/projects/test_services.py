from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.utils import timezone

from console.audit import Actor
from console.models import AuditEvent
from projects import key_cache, services
from projects.keys import key_digest
from projects.models import ApiKey, Project
from projects.services import (
    aapi_key_authenticate,
    api_key_authenticate,
    api_key_create,
    api_key_delete,
    project_create,
    project_delete,
    project_rename,
)
from tests.factories import ApiKeyFactory, ProjectFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.command("test")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(services._lookups, "clock", fake)
    return fake


@pytest.fixture
def checked(clock):
    """The revocation counter was just read (it is read at most every half second): within a
    frozen clock, lookups cost only what the lookup itself costs."""
    services._lookups.revocation_token_seen(key_cache.revocation_token_read(), checked_at=clock())
    return clock


@pytest.fixture
def key(project):
    api_key, raw_key = api_key_create(project=project, name="Production", actor=ACTOR)
    return api_key, raw_key


# Projects ------------------------------------------------------------------------------------


def test_project_create_rename_delete_are_audited(organization):
    project = project_create(organization=organization, name=" Web   app ", actor=ACTOR)
    assert project.name == "Web app"
    project_rename(project=project, name="Storefront", actor=ACTOR)
    project_delete(project=project, actor=ACTOR)
    events = list(AuditEvent.objects.order_by("id").values_list("action", "details"))
    assert events == [
        ("project.create", {}),
        ("project.rename", {"from": "Web app", "to": "Storefront"}),
        ("project.delete", {"name": "Storefront", "api_keys": 0}),
    ]
    assert all(e.actor_label == "manage.py test" for e in AuditEvent.objects.all())


def test_project_names_are_unique_per_organization_ignoring_case(organization):
    project_create(organization=organization, name="Web", actor=ACTOR)
    with pytest.raises(ValidationError, match="already exists"):
        project_create(organization=organization, name="WEB", actor=ACTOR)
    ProjectFactory(name="Web")  # another organization may
    assert Project.objects.filter(organization=organization).count() == 1


def test_renaming_to_the_same_name_changes_and_records_nothing(project):
    project_rename(project=project, name=project.name, actor=ACTOR)
    assert not AuditEvent.objects.filter(action="project.rename").exists()


# Key creation and deletion -------------------------------------------------------------------


def test_api_key_create_stores_only_the_digest(project):
    api_key, raw_key = api_key_create(project=project, name="CI", actor=ACTOR, expires_in_days=30)
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw_key not in str(row)
    assert row["digest"] == key_digest(raw_key)
    assert row["prefix"] == raw_key[4:12]
    assert api_key.expires is not None and api_key.expires - api_key.created == timedelta(days=30)
    event = AuditEvent.objects.get(action="api_key.create")
    assert raw_key not in str(event.__dict__) and row["digest"] not in str(event.__dict__)


@pytest.mark.parametrize(
    ("name", "days", "message"),
    [("", None, "Enter a name"), ("n" * 65, None, "at most 64"), ("ok", 0, "at least one day")],
)
def test_bad_key_input_creates_nothing(project, name, days, message):
    with pytest.raises(ValidationError, match=message):
        api_key_create(project=project, name=name, actor=ACTOR, expires_in_days=days)
    assert not ApiKey.objects.exists() and not AuditEvent.objects.exists()


def test_key_names_are_unique_per_project(project):
    api_key_create(project=project, name="Prod", actor=ACTOR)
    with pytest.raises(ValidationError, match="already has an API key named"):
        api_key_create(project=project, name="prod", actor=ACTOR)
    api_key_create(project=ProjectFactory(organization=project.organization), name="Prod", actor=ACTOR)
    assert ApiKey.objects.count() == 2


# Authentication ------------------------------------------------------------------------------


def test_a_valid_key_authenticates_to_its_project(key, project):
    api_key, raw_key = key
    found = api_key_authenticate(raw_key)
    assert found is not None and found == api_key
    assert found.project == project


def test_a_bad_checksum_is_refused_without_a_query(key, django_assert_num_queries):
    _, raw_key = key
    flipped = raw_key[:10] + ("A" if raw_key[10] != "A" else "B") + raw_key[11:]
    with django_assert_num_queries(0):
        assert api_key_authenticate(flipped) is None
        assert api_key_authenticate("dpk_nonsense") is None
        assert api_key_authenticate("") is None


def test_an_unknown_key_costs_one_indexed_query(key, checked, django_assert_num_queries):
    other_project_key = ApiKeyFactory()  # a row exists, but not for this key
    with django_assert_num_queries(1) as queries:
        assert api_key_authenticate(services.key_generate()) is None
    assert '"digest" = ' in queries.captured_queries[0]["sql"]
    assert ApiKey.objects.filter(pk=other_project_key.pk).exists()


def test_a_miss_costs_one_query_and_a_warm_hit_none(key, checked, django_assert_num_queries):
    _, raw_key = key
    ApiKey.objects.update(last_used=timezone.now())  # so no last_used write is due
    with django_assert_num_queries(1):
        assert api_key_authenticate(raw_key) is not None
    with django_assert_num_queries(0):
        for _ in range(100):
            assert api_key_authenticate(raw_key) is not None


def test_last_used_is_written_at_most_once_a_minute(key, checked, monkeypatch, django_assert_num_queries):
    api_key, raw_key = key
    start = timezone.now()
    monkeypatch.setattr(services.timezone, "now", lambda: start)
    with django_assert_num_queries(2):  # the lookup, and the first last_used
        api_key_authenticate(raw_key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used == start
    monkeypatch.setattr(services.timezone, "now", lambda: start + timedelta(seconds=59))
    with django_assert_num_queries(0):
        api_key_authenticate(raw_key)
    later = start + timedelta(seconds=61)
    monkeypatch.setattr(services.timezone, "now", lambda: later)
    with django_assert_num_queries(1):
        api_key_authenticate(raw_key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used == later


def test_last_used_is_not_rewritten_by_a_process_that_has_not_seen_the_last_write(key, monkeypatch):
    api_key, raw_key = key
    now = timezone.now()
    monkeypatch.setattr(services.timezone, "now", lambda: now)
    api_key_authenticate(raw_key)  # this process writes last_used = now
    services._lookups.clear()  # "another process", with an older view of the row
    ApiKey.objects.filter(pk=api_key.pk).update(last_used=now - timedelta(seconds=10))
    stale = ApiKey.objects.get(pk=api_key.pk)
    stale.last_used = now - timedelta(minutes=5)
    ApiKey.objects.filter(services._last_used_stale(stale, now)).update(last_used=now)
    assert ApiKey.objects.get(pk=api_key.pk).last_used == now - timedelta(seconds=10)


def test_an_expired_key_is_refused_even_when_cached(project, monkeypatch):
    api_key, raw_key = api_key_create(project=project, name="Short", actor=ACTOR, expires_in_days=30)
    assert api_key_authenticate(raw_key) is not None
    future = timezone.now() + timedelta(days=30, seconds=1)
    monkeypatch.setattr(services.timezone, "now", lambda: future)
    assert api_key_authenticate(raw_key) is None
    services._lookups.clear()
    assert api_key_authenticate(raw_key) is None


def test_a_deleted_key_is_refused_within_the_revocation_interval(key, checked, django_assert_num_queries):
    api_key, raw_key = key
    clock = checked
    assert api_key_authenticate(raw_key) is not None
    api_key_delete(api_key=api_key, actor=ACTOR)
    # Within the check interval this process may still answer from its cache...
    clock.now += key_cache.REVOCATION_CHECK_SECONDS - 0.01
    with django_assert_num_queries(0):
        api_key_authenticate(raw_key)
    # ...and once the interval has passed, it reads the counter, sees it moved, and asks the database.
    clock.now += 0.01
    with django_assert_num_queries(2):
        assert api_key_authenticate(raw_key) is None
    assert api_key_authenticate(raw_key) is None


def test_revocation_reaches_a_process_that_only_shares_the_database(key, clock):
    """Another process: its own lookup cache, nothing shared but the console database."""
    api_key, raw_key = key
    other = key_cache.ApiKeyLookupCache(clock=clock)
    digest = key_digest(raw_key)
    other.revocation_token_seen(key_cache.revocation_token_read(), checked_at=clock())
    other.put(digest, api_key, generation=other.get(digest)[1], fetched=clock())
    assert other.get(digest)[0] == api_key
    api_key_delete(api_key=api_key, actor=ACTOR)
    clock.now += key_cache.REVOCATION_CHECK_SECONDS
    assert other.revocation_check_due()
    other.revocation_token_seen(key_cache.revocation_token_read(), checked_at=clock())
    assert other.get(digest)[0] is None


def test_keys_deleted_with_their_project_are_revoked_too(key, project, checked):
    _, raw_key = key
    assert api_key_authenticate(raw_key) is not None
    project_delete(project=project, actor=ACTOR)
    checked.now += key_cache.REVOCATION_CHECK_SECONDS
    assert api_key_authenticate(raw_key) is None


def counter() -> str | None:
    return key_cache.revocation_token_read()


def test_the_database_counts_every_change_that_revokes_and_nothing_else(key, project):
    """Triggers, so every path counts: a queryset, raw SQL, an expiry change; and the count
    commits or rolls back with the change itself."""
    from django.db import connection, transaction

    api_key, _ = key
    other, _ = api_key_create(project=project, name="Other", actor=ACTOR)
    start = counter()
    ApiKey.objects.filter(pk=api_key.pk).update(last_used=timezone.now())  # a lookup's bookkeeping
    assert counter() == start
    ApiKey.objects.filter(pk=api_key.pk).update(expires=timezone.now())
    assert counter() != start
    before_rollback = counter()
    with pytest.raises(RuntimeError), transaction.atomic():
        ApiKey.objects.filter(pk=other.pk).delete()
        raise RuntimeError("changed my mind")
    assert counter() == before_rollback
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM projects_apikey WHERE id = %s", [other.pk])
    assert counter() != before_rollback


def test_an_unreadable_revocation_counter_turns_caching_off_not_on(key, clock, monkeypatch):
    from django.db import DatabaseError

    api_key, raw_key = key
    assert api_key_authenticate(raw_key) is not None
    assert len(services._lookups) == 1

    class Unreadable:
        def filter(self, *args, **kwargs):
            raise DatabaseError("relation does not exist")

    monkeypatch.setattr(key_cache.ApiKeyRevocations, "objects", Unreadable())
    clock.now += key_cache.REVOCATION_CHECK_SECONDS
    assert api_key_authenticate(raw_key) is not None
    assert len(services._lookups) == 0
    ApiKey.objects.filter(pk=api_key.pk).delete()
    assert api_key_authenticate(raw_key) is None  # straight from the database


def test_a_lookup_that_raced_a_revocation_is_not_cached(key, clock):
    api_key, raw_key = key
    digest = key_digest(raw_key)
    lookups = services._lookups
    lookups.revocation_token_seen(key_cache.revocation_token_read(), checked_at=clock())
    _, generation = lookups.get(digest)
    # Another thread sees a revocation between this lookup's query and its put:
    lookups.revocation_token_seen("a newer token", checked_at=clock())
    lookups.put(digest, api_key, generation=generation, fetched=clock())
    assert lookups.get(digest)[0] is None


def test_the_cache_is_bounded(monkeypatch, clock):
    monkeypatch.setattr(key_cache, "MAX_ENTRIES", 3)
    lookups = key_cache.ApiKeyLookupCache(clock=clock)
    lookups.revocation_token_seen("token", checked_at=clock())
    for n in range(5):
        lookups.put(f"digest{n}", ApiKey(name=str(n)), generation=lookups.get("x")[1], fetched=clock())
    assert len(lookups) == 3
    assert lookups.get("digest0")[0] is None and lookups.get("digest4")[0] is not None


def test_the_async_twin_gives_the_same_answers(key, project):
    api_key, raw_key = key
    authenticate = async_to_sync(aapi_key_authenticate)
    found = authenticate(raw_key)
    assert found is not None and found == api_key and found.project == project
    assert ApiKey.objects.get(pk=api_key.pk).last_used is not None
    assert authenticate(raw_key[:-1] + ("0" if raw_key[-1] != "0" else "1")) is None
    assert authenticate(services.key_generate()) is None
    api_key_delete(api_key=api_key, actor=ACTOR)
    services._lookups.clear()
    assert authenticate(raw_key) is None
