"""The Accelerate tab's "View usage" link (platform docs: "View Accelerate usage")."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.models import Role

pytestmark = pytest.mark.django_db


def test_a_configured_project_links_to_its_accelerate_usage_for_every_member(
    owner_client, project, database_url, member_factory
):
    tab = reverse("accelerate:tab", args=[project.organization.slug, project.pk])
    assert "View usage" not in owner_client.get(tab).content.decode()  # nothing to show yet
    owner_client.post(
        reverse("accelerate:configure", args=[project.organization.slug, project.pk]),
        {
            "connection_string": database_url(),
            "region": "eu-west-1",
            "connection_limit": 10,
            "pool_timeout_seconds": 10,
            "query_timeout_seconds": 10,
            "response_size_limit_mb": 5,
        },
    )
    usage = reverse("usage", args=[project.organization.slug])
    link = f'href="{usage}?project={project.pk}&amp;product=accelerate">View usage</a>'
    viewer = Client()
    viewer.force_login(member_factory(project.organization, Role.VIEWER).user)
    for client in (owner_client, viewer):
        page = client.get(tab).content.decode()
        assert link in page
    assert "Disable Accelerate" in owner_client.get(tab).content.decode()
