from __future__ import annotations

from types import SimpleNamespace

import pytest

from projects.selectors import _product_enabled, project_api_keys, project_product_state
from tests.factories import ApiKeyFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_product_state_of_a_new_project(project):
    state = project_product_state(project=project)
    assert (state.api_keys, state.accelerate_enabled, state.pulse_enabled) == (0, False, False)


def test_product_state_reads_the_products_configuration_when_there_is_one():
    configured = SimpleNamespace(accelerate_config=SimpleNamespace(enabled=True))
    disabled = SimpleNamespace(pulse_config=SimpleNamespace(enabled=False))
    assert _product_enabled(configured, "accelerate_config") is True
    assert _product_enabled(disabled, "pulse_config") is False
    assert _product_enabled(configured, "pulse_config") is False


def test_project_api_keys_are_the_projects_own_newest_first(project, django_assert_num_queries):
    first = ApiKeyFactory(project=project)
    second = ApiKeyFactory(project=project)
    ApiKeyFactory(project=ProjectFactory(organization=project.organization))
    with django_assert_num_queries(1):
        keys = list(project_api_keys(project=project))
        assert [k.created_by for k in keys] == [None, None]
    assert [k.pk for k in keys] == [second.pk, first.pk]
