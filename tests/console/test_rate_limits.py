"""Rate limits: what a user, an invitee and an application see when they go over one."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.ratelimit import RateLimited, rate_limit_consume
from dataplane.limits import TokenBuckets
from projects.models import ApiKey

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def limits(settings):
    """limits(name="count/seconds", ...): tighter limits for one test."""

    def tighten(**overrides: str) -> None:
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, **overrides}

    return tighten


def test_guessing_invitation_links_is_stopped_per_address(client, limits):
    limits(invitation_accept="3/600")
    guesses = [reverse("invitation_accept", args=[f"guess-{n}"]) for n in range(4)]
    assert [client.get(link).status_code for link in guesses[:3]] == [404, 404, 404]
    refused = client.get(guesses[3])
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 600
    assert "Too many attempts. Try again in" in refused.content.decode()
    # Another address is counted on its own.
    assert client.get(guesses[3], REMOTE_ADDR="203.0.113.9").status_code == 404


def test_creating_keys_too_fast_is_refused_in_the_dialog_and_creates_nothing(owner_client, project, limits):
    limits(api_key_create="2/600")
    create = reverse("projects:api_key_create", args=[project.organization.slug, project.pk])
    for name in ("one", "two"):
        assert owner_client.post(create, {"name": name}, headers=HTMX).status_code == 200
    refused = owner_client.post(create, {"name": "three"}, headers=HTMX)
    assert refused.status_code == 429 and refused["Retry-After"]
    dialog = refused.content.decode()
    assert '<div id="api-key-dialog">' in dialog and "Too many attempts" in dialog
    assert "HX-Trigger" not in refused
    assert sorted(ApiKey.objects.values_list("name", flat=True)) == ["one", "two"]
    # Without JavaScript: the whole page, with the same message.
    page = owner_client.post(create, {"name": "four"})
    assert page.status_code == 429 and "<html" in page.content.decode()


def test_database_checks_are_limited_per_user_across_both_products(owner_client, project, limits, settings):
    limits(database_check="2/60")
    settings.PULSE_OPEN_ACCESS = True
    configure = reverse("accelerate:configure", args=[project.organization.slug, project.pk])
    check = reverse("pulse:check", args=[project.organization.slug, project.pk])
    unreachable = {
        "connection_string": "postgresql://app:secret@127.0.0.1:1/app",
        "region": "eu-west-1",
        "connection_limit": 10,
        "pool_timeout_seconds": 10,
        "query_timeout_seconds": 10,
        "response_size_limit_mb": 5,
    }
    first = owner_client.post(configure, unreachable)
    assert first.status_code == 200 and "Too many attempts" not in first.content.decode()
    pulse = owner_client.post(check, {"connection_string": unreachable["connection_string"]}, headers=HTMX)
    assert pulse.status_code == 200 and "Too many attempts" not in pulse.content.decode()

    refused = owner_client.post(configure, unreachable)
    assert refused.status_code == 429 and refused["Retry-After"]
    assert "Too many attempts" in refused.content.decode()
    refused = owner_client.post(check, {"connection_string": unreachable["connection_string"]}, headers=HTMX)
    assert refused.status_code == 429
    assert '<div id="pulse-readiness"' in refused.content.decode()
    assert "Too many attempts" in refused.content.decode()


def test_a_form_that_does_not_validate_costs_no_database_check(owner_client, project, limits):
    limits(database_check="1/60")
    configure = reverse("accelerate:configure", args=[project.organization.slug, project.pk])
    for _ in range(3):
        response = owner_client.post(configure, {"connection_string": "", "region": "eu-west-1"})
        assert response.status_code == 200 and "Too many attempts" not in response.content.decode()


def test_a_failing_cache_lets_attempts_through(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_key_create": "1/60"}
    for _ in range(3):
        rate_limit_consume(name="api_key_create", identity="user:1")


def test_the_limit_opens_again_in_the_next_window(settings, monkeypatch):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_key_create": "1/60"}
    now = [6000.0]
    monkeypatch.setattr("console.ratelimit.time.time", lambda: now[0])
    rate_limit_consume(name="api_key_create", identity="user:1")
    now[0] = 6030.0
    with pytest.raises(RateLimited) as refused:
        rate_limit_consume(name="api_key_create", identity="user:1")
    assert refused.value.retry_after == 30
    now[0] = 6060.0
    rate_limit_consume(name="api_key_create", identity="user:1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_bucket_allows_the_burst_then_the_rate():
    clock = Clock()
    buckets = TokenBuckets(rate=10, burst=3, clock=clock)
    assert [buckets.take("key") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("key") == pytest.approx(0.1)
    assert buckets.take("other key") == 0.0
    clock.now += 0.11
    assert buckets.take("key") == 0.0
    assert buckets.take("key") > 0
    clock.now += 10
    assert [buckets.take("key") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_token_buckets_forget_idle_keys_first_when_full():
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=2, clock=clock, max_identities=2)
    buckets.take("idle")
    clock.now += 5
    buckets.take("busy")
    buckets.take("busy")
    buckets.take("new")  # evicts "idle", which had refilled, not "busy"
    assert buckets.take("busy") > 0
    assert len(buckets._buckets) == 2


def test_logging_in_still_works_while_redis_is_down(client, settings, throwaway_redis):
    from tests.factories import PASSWORD, UserFactory

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": throwaway_redis.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    user = UserFactory()
    throwaway_redis.kill()
    wrong = client.post(reverse("login"), {"username": user.email, "password": "wrong"})
    assert wrong.status_code == 200 and "do not match an account" in wrong.content.decode()
    right = client.post(reverse("login"), {"username": user.email, "password": PASSWORD})
    assert right.status_code == 302
