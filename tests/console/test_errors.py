"""When the console's database is unreachable, pages answer 503 with Retry-After, not a bare 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_database_outage_answers_503_with_retry_after(owner, organization, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    def unreachable(*args, **kwargs):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr("console.view_helpers.selectors.membership_for_user", unreachable)
    response = client.get(f"/o/{organization.slug}/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "briefly unavailable" in page and "Connection refused" not in page


def test_other_errors_stay_a_plain_500(owner, organization, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("console.view_helpers.selectors.membership_for_user", broken)
    response = client.get(f"/o/{organization.slug}/")
    assert response.status_code == 500 and "a bug" not in response.content.decode()


def test_a_session_that_cannot_be_saved_for_the_outage_is_503_too(owner, organization, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(owner)

    def unreachable(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    # The overview remembers the organization in the session; saving it meets the outage.
    monkeypatch.setattr("django.contrib.sessions.models.Session.save", unreachable)
    response = client.get(f"/o/{organization.slug}/")
    assert response.status_code == 503 and response["Retry-After"] == "5"


def test_other_bad_requests_stay_400(client):
    response = client.get("/login/", headers={"Host": "evil.example.com"})
    assert response.status_code == 400
