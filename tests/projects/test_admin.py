from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.audit import Actor
from console.models import AuditEvent
from projects.models import ApiKey, Project
from projects.services import api_key_authenticate, api_key_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_admin_shows_keys_without_their_digest_or_secret(admin_client, project):
    api_key, raw_key = api_key_create(project=project, name="Prod", actor=Actor.command("test"))
    pages = [
        admin_client.get(reverse("admin:projects_apikey_changelist")),
        admin_client.get(reverse("admin:projects_apikey_change", args=[api_key.pk])),
        admin_client.get(reverse("admin:projects_project_change", args=[project.pk])),
    ]
    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        assert api_key.masked in html
        assert api_key.digest not in html and raw_key not in html and "digest" not in html.lower()


def test_admin_cannot_create_or_edit_keys(admin_client, project):
    assert admin_client.get(reverse("admin:projects_apikey_add")).status_code == 403
    api_key, raw_key = api_key_create(project=project, name="Prod", actor=Actor.command("test"))
    admin_client.post(
        reverse("admin:projects_apikey_change", args=[api_key.pk]), {"name": "Renamed", "digest": "0" * 64}
    )
    api_key.refresh_from_db()
    assert api_key.name == "Prod" and api_key_authenticate(raw_key) == api_key


def test_admin_deletes_keys_through_the_service(admin_client, project):
    api_key, raw_key = api_key_create(project=project, name="Prod", actor=Actor.command("test"))
    admin_client.post(reverse("admin:projects_apikey_delete", args=[api_key.pk]), {"post": "yes"})
    assert not ApiKey.objects.exists()
    assert api_key_authenticate(raw_key) is None
    assert AuditEvent.objects.filter(action="api_key.delete").count() == 1


def test_admin_creates_renames_and_deletes_projects_through_the_services(admin_client, organization):
    admin_client.post(
        reverse("admin:projects_project_add"),
        {
            "organization": organization.pk,
            "name": "From admin",
            "api_keys-TOTAL_FORMS": 0,
            "api_keys-INITIAL_FORMS": 0,
        },
    )
    project = Project.objects.get(name="From admin")
    admin_client.post(
        reverse("admin:projects_project_change", args=[project.pk]),
        {"name": "Renamed in admin", "api_keys-TOTAL_FORMS": 0, "api_keys-INITIAL_FORMS": 0},
    )
    project.refresh_from_db()
    assert project.name == "Renamed in admin"
    admin_client.post(reverse("admin:projects_project_delete", args=[project.pk]), {"post": "yes"})
    assert not Project.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["project.create", "project.rename", "project.delete"]
