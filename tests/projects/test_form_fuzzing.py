"""Arbitrary input to every project form: never a server error, never live markup."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from projects.forms import EXPIRY_CHOICES
from tests.fuzzing import assert_handled, forms, text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name, project):
    return reverse(f"projects:{name}", args=[project.organization.slug, project.pk])


@forms
@given(name=text, htmx=st.booleans())
def test_new_project(owner_client, organization, name, htmx):
    response = owner_client.post(
        reverse("projects:create", args=[organization.slug]), {"name": name}, headers=HTMX if htmx else {}
    )
    assert_handled(response)


@forms
@given(name=text, htmx=st.booleans())
def test_rename_project(owner_client, project, name, htmx):
    assert_handled(owner_client.post(url("settings", project), {"name": name}, headers=HTMX if htmx else {}))


@forms
@given(confirm_name=text, htmx=st.booleans())
def test_delete_project_confirmation(owner_client, project, confirm_name, htmx):
    response = owner_client.post(
        url("delete", project), {"confirm_name": confirm_name}, headers=HTMX if htmx else {}
    )
    assert_handled(response)


@forms
@given(
    name=text,
    expires_in_days=st.one_of(st.sampled_from([value for value, _ in EXPIRY_CHOICES]), text),
    htmx=st.booleans(),
)
def test_new_api_key(owner_client, project, name, expires_in_days, htmx):
    cache.clear()
    response = owner_client.post(
        url("api_key_create", project),
        {"name": name, "expires_in_days": expires_in_days},
        headers=HTMX if htmx else {},
    )
    assert_handled(response)
