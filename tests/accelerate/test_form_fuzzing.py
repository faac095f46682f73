"""Arbitrary input to the Accelerate forms: never a server error, never live markup, and the
connection string (write-only) never comes back in the page."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accelerate.models import AccelerateConfig
from tests.fuzzing import assert_handled, assert_password_not_shown, connection_strings, forms, text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
numbers = st.one_of(st.sampled_from(["1", "5", "10", "30"]), st.integers(-(10**20), 10**20).map(str), text)
regions = st.one_of(st.sampled_from(["", "eu-west-1", "us-east-1"]), text)


def url(name, project):
    return reverse(f"accelerate:{name}", args=[project.organization.slug, project.pk])


def form(connection_string, region, limit, pool, query, size):
    return {
        "connection_string": connection_string,
        "region": region,
        "connection_limit": limit,
        "pool_timeout_seconds": pool,
        "query_timeout_seconds": query,
        "response_size_limit_mb": size,
    }


@forms
@given(
    connection_string=connection_strings,
    region=regions,
    limit=numbers,
    pool=numbers,
    query=numbers,
    size=numbers,
)
def test_configure_accelerate(owner_client, project, connection_string, region, limit, pool, query, size):
    cache.clear()
    response = owner_client.post(
        url("configure", project), form(connection_string, region, limit, pool, query, size)
    )
    assert_handled(response)
    assert_password_not_shown(response)
    assert not AccelerateConfig.objects.exists()  # nothing listens on 127.0.0.1:1: nothing is stored


@forms
@given(
    connection_string=connection_strings,
    region=regions,
    limit=numbers,
    pool=numbers,
    query=numbers,
    size=numbers,
)
def test_edit_accelerate(
    owner_client, project, database_url, connection_string, region, limit, pool, query, size
):
    cache.clear()
    if not AccelerateConfig.objects.exists():
        owner_client.post(url("configure", project), form(database_url(), "eu-west-1", 10, 10, 10, 5))
    response = owner_client.post(
        url("edit", project), form(connection_string, region, limit, pool, query, size)
    )
    assert_handled(response)
    assert_password_not_shown(response)


@forms
@given(connection_string=connection_strings, region=regions, editing=text)
def test_region_hint_as_the_user_types(owner_client, project, connection_string, region, editing):
    response = owner_client.post(
        url("region", project),
        {"connection_string": connection_string, "region": region, "editing": editing},
        headers=HTMX,
    )
    assert_handled(response)
