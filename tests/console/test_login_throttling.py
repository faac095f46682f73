"""Login throttling (console/throttling.py): what a person signing in sees, per account and per
client address, under concurrency, at the console's login and at Django admin's."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.urls import reverse

from tests.console.hashers import ObservedHasher
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
PAUSED = "Too many failed attempts. For your security, signing in is paused for"


def log_in(client: Client, email: str, password: str, **extra: str):
    return client.post(LOGIN, {"username": email, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_repeated_failures_pause_the_account_and_say_how_long(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory()
    for _ in range(3):
        assert "do not match an account" in log_in(client, user.email, "wrong").content.decode()
    # Even the right password is refused while paused, and the person is told for how long.
    response = log_in(client, user.email, PASSWORD)
    assert response.status_code == 429
    assert 890 <= int(response["Retry-After"]) <= 900
    assert f"{PAUSED} 15 minutes. Try again then." in response.content.decode()
    assert not signed_in(client)


def test_one_accounts_failures_never_lock_out_another_account_from_the_same_address(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 100
    typist, colleague = UserFactory(), UserFactory()
    for _ in range(8):  # five count, then the account is paused; the rest are refused unchecked
        log_in(client, typist.email, "wrong")
    assert PAUSED in log_in(client, typist.email, PASSWORD).content.decode()
    # Same address (behind one proxy, every colleague's): the colleague signs in.
    response = log_in(client, colleague.email, PASSWORD)
    assert response.status_code == 302
    assert signed_in(client)


def test_spraying_many_accounts_from_one_address_pauses_that_address(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 6
    victims = [UserFactory() for _ in range(7)]
    for victim in victims[:6]:  # one guess each: no account reaches its own limit
        assert log_in(client, victim.email, "Summer2024!").status_code == 200
    refused = log_in(client, victims[6].email, PASSWORD)
    assert refused.status_code == 429 and PAUSED in refused.content.decode()
    # Another address is not affected.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert log_in(other, victims[6].email, PASSWORD).status_code == 302


def test_a_successful_sign_in_forgives_the_accounts_failures(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    user = UserFactory()
    for _ in range(2):
        log_in(client, user.email, "wrong")
    assert log_in(client, user.email, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        log_in(client, user.email, "wrong")
    assert log_in(client, user.email, PASSWORD).status_code == 302


def test_an_unknown_email_is_paused_like_a_known_one(client, settings):
    """The pause does not tell which emails have accounts."""
    settings.LOGIN_FAILURE_LIMIT = 2
    answers = []
    for email in ("nobody@example.com", UserFactory().email):
        for _ in range(2):
            log_in(client, email, "wrong")
        response = log_in(client, email, "wrong")
        answers.append((response.status_code, PAUSED in response.content.decode()))
    assert answers == [(429, True), (429, True)]


@pytest.fixture
def observed_hasher(settings) -> type[ObservedHasher]:
    """Passwords hashed with ObservedHasher, which counts checks and takes 0.2 s for each."""
    settings.PASSWORD_HASHERS = ["tests.console.hashers.ObservedHasher", *settings.PASSWORD_HASHERS]
    ObservedHasher.reset(delay=0.2)
    return ObservedHasher


def at_once(count: int, attempt: Callable[[int], int]) -> list[int]:
    """Run attempt(0..count-1) in that many real threads released together; their statuses."""
    barrier = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            statuses[n] = attempt(n)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


@pytest.fixture(params=["local memory", "redis"])
def shared_cache(request, settings):
    """The counters in the default local-memory cache, and in Redis as in production."""
    if request.param == "redis":
        redis = request.getfixturevalue("throwaway_redis")
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis.url}
        }
    return request.param


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_wrong_passwords_check_at_most_the_limit(settings, observed_hasher, shared_cache):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_CONCURRENT_HASHES = 20
    user = UserFactory()
    observed_hasher.checks = 0
    statuses = at_once(20, lambda n: log_in(Client(), user.email, f"wrong {n}").status_code)
    assert observed_hasher.checks <= 5
    assert statuses.count(429) >= 15 and set(statuses) <= {200, 429}
    # …and the account is paused afterwards, right password or not.
    assert log_in(Client(), user.email, PASSWORD).status_code == 429


@pytest.mark.django_db(transaction=True)
def test_concurrent_logins_wait_for_one_of_a_few_password_checks(settings, observed_hasher):
    settings.LOGIN_CONCURRENT_HASHES = 2
    settings.LOGIN_HASH_WAIT_SECONDS = 30
    users = [UserFactory() for _ in range(8)]
    observed_hasher.checks = 0
    statuses = at_once(8, lambda n: log_in(Client(), users[n].email, PASSWORD).status_code)
    assert statuses == [302] * 8  # everyone got in, in turn
    assert observed_hasher.checks == 8
    assert observed_hasher.peak == 2


@pytest.mark.django_db(transaction=True)
def test_logins_that_find_no_free_password_check_in_time_are_answered_busy(settings, observed_hasher):
    settings.LOGIN_CONCURRENT_HASHES = 1
    settings.LOGIN_HASH_WAIT_SECONDS = 0.05
    users = [UserFactory() for _ in range(6)]
    answers: dict[int, str] = {}

    def attempt(n: int) -> int:
        response = log_in(Client(), users[n].email, PASSWORD)
        answers[n] = response.content.decode()
        return response.status_code

    statuses = at_once(6, attempt)
    assert observed_hasher.peak == 1
    assert statuses.count(302) >= 1 and statuses.count(429) >= 1
    busy = next(answers[n] for n, status in enumerate(statuses) if status == 429)
    assert "Many sign-ins are being checked right now. Try again in 1 second." in busy
    # A busy refusal is not a failed password: the account can sign in right after.
    refused_user = users[statuses.index(429)]
    settings.LOGIN_HASH_WAIT_SECONDS = 5
    assert log_in(Client(), refused_user.email, PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_and_counts_toward_the_console_pause(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin_login = reverse("admin:login")
    for _ in range(3):
        response = client.post(admin_login, {"username": staff.email, "password": "wrong", "next": "/admin/"})
        assert "Please enter the correct email and password for a staff account" in response.content.decode()
    refused = client.post(admin_login, {"username": staff.email, "password": PASSWORD, "next": "/admin/"})
    assert PAUSED in refused.content.decode()
    assert not signed_in(client)
    # The same pause holds at the console's login.
    assert log_in(client, staff.email, PASSWORD).status_code == 429


def test_console_failures_count_at_the_admin_login_too(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    staff = UserFactory(is_staff=True)
    for _ in range(2):
        log_in(client, staff.email, "wrong")
    response = client.post(reverse("admin:login"), {"username": staff.email, "password": PASSWORD})
    assert PAUSED in response.content.decode()


# The client's address ---------------------------------------------------------------------------


def test_behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own(settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 2
    users = [UserFactory() for _ in range(4)]
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for user in users[:2]:
        # The sprayer varies the header's first entry; the proxy's own entry still names them.
        log_in(proxy, user.email, "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{user.pk % 250}, 198.51.100.7")
    refused = log_in(proxy, users[2].email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert refused.status_code == 429
    # Another client behind the same proxy signs in.
    assert log_in(proxy, users[3].email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 302


# Lifting a pause ---------------------------------------------------------------------------------


def run_unlocklogin(*args: str) -> str:
    out = io.StringIO()
    call_command("unlocklogin", *args, stdout=out)
    return out.getvalue()


def test_an_operator_lifts_an_accounts_pause_with_a_command(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    user = UserFactory()
    for _ in range(2):
        log_in(client, user.email, "wrong")
    assert log_in(client, user.email, PASSWORD).status_code == 429
    assert run_unlocklogin(user.email) == f"Lifted the sign-in pause of {user.email}; they can sign in now.\n"
    assert log_in(client, user.email, PASSWORD).status_code == 302
    assert run_unlocklogin(user.email) == f"{user.email} was not paused; nothing else to lift.\n"


def test_an_operator_lifts_an_addresss_pause_with_a_command(client, settings):
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = 2
    users = [UserFactory() for _ in range(3)]
    for user in users[:2]:
        log_in(client, user.email, "wrong")
    assert log_in(client, users[2].email, PASSWORD).status_code == 429
    assert "Lifted the sign-in pause of the address 127.0.0.1" in run_unlocklogin("--address", "127.0.0.1")
    assert log_in(client, users[2].email, PASSWORD).status_code == 302


def test_unlocklogin_needs_an_email_or_a_real_address():
    with pytest.raises(CommandError, match="Name the account's email"):
        run_unlocklogin()
    with pytest.raises(CommandError, match="is not an IP address"):
        run_unlocklogin("--address", "example.com")


def test_an_admin_lifts_a_pause_from_the_users_list(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    user, bystander = UserFactory(), UserFactory()
    for _ in range(2):
        log_in(client, user.email, "wrong")
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = staff.post(
        reverse("admin:console_user_changelist"),
        {"action": "lift_sign_in_pause", "_selected_action": [user.pk, bystander.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert f"Lifted the sign-in pause of {user.email}; they can sign in now." in page
    assert "1 of the selected users were not paused." in page
    assert log_in(client, user.email, PASSWORD).status_code == 302
