"""Arbitrary input to Pulse's "Check database" and "Enable Pulse": never a server error, never
live markup, and the connection string never comes back in the page."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from pulse.models import PulseConfig
from tests.fuzzing import assert_handled, assert_password_not_shown, connection_strings, forms, text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
tables = st.one_of(text, st.lists(text, max_size=5).map(", ".join))
regions = st.one_of(st.sampled_from(["eu-west-1", "us-east-1"]), text)


@pytest.fixture
def open_access(settings):
    settings.PULSE_OPEN_ACCESS = True


def url(name, project):
    return reverse(f"pulse:{name}", args=[project.organization.slug, project.pk])


@forms
@given(connection_string=connection_strings, tables=tables, htmx=st.booleans())
def test_check_database(owner_client, project, open_access, connection_string, tables, htmx):
    cache.clear()
    response = owner_client.post(
        url("check", project),
        {"connection_string": connection_string, "tables": tables},
        headers=HTMX if htmx else {},
    )
    assert_handled(response)
    assert_password_not_shown(response)


@forms
@given(connection_string=connection_strings, tables=tables, region=regions)
def test_enable_pulse(owner_client, project, open_access, connection_string, tables, region):
    cache.clear()
    response = owner_client.post(
        url("enable", project), {"connection_string": connection_string, "tables": tables, "region": region}
    )
    assert_handled(response)
    assert_password_not_shown(response)
    assert not PulseConfig.objects.filter(enabled=True).exists()
