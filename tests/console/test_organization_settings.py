"""Settings › General: renaming and deleting the organization."""

from __future__ import annotations

import pytest
from django.urls import reverse

from console.models import AuditEvent, Invitation, Membership, Organization, Role
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_an_admin_renames_the_organization(client, organization, member_factory):
    admin = member_factory(organization, Role.ADMIN)
    client.force_login(admin.user)
    url = reverse("organization_settings", args=[organization.slug])
    response = client.post(url, {"name": "  Acme   Corp "}, follow=True)
    assert "Organization renamed to “Acme Corp”." in response.content.decode()
    organization.refresh_from_db()
    assert organization.name == "Acme Corp"
    event = AuditEvent.objects.get(action="organization.rename")
    assert event.details["to"] == "Acme Corp"
    assert event.actor_label == admin.user.email


def test_an_empty_name_is_refused(owner_client, organization):
    before = organization.name
    response = owner_client.post(reverse("organization_settings", args=[organization.slug]), {"name": "  "})
    assert "This field is required." in response.content.decode()
    organization.refresh_from_db()
    assert organization.name == before


def test_a_developer_sees_the_name_but_no_rename_or_delete(client, organization, member_factory):
    developer = member_factory(organization, Role.DEVELOPER)
    client.force_login(developer.user)
    html = client.get(reverse("organization_settings", args=[organization.slug])).content.decode()
    assert organization.name in html
    assert ">Update<" not in html
    assert "Delete organization" not in html
    assert "Leave organization" in html


def test_an_admin_cannot_delete_the_organization(client, organization, member_factory):
    admin = member_factory(organization, Role.ADMIN)
    client.force_login(admin.user)
    html = client.get(reverse("organization_settings", args=[organization.slug])).content.decode()
    assert "Delete organization" not in html
    url = reverse("organization_delete", args=[organization.slug])
    assert client.post(url, {"confirm_name": organization.name}).status_code == 403
    assert Organization.objects.filter(pk=organization.pk).exists()


def test_deleting_asks_for_the_typed_name_in_a_dialog(owner_client, organization):
    html = owner_client.get(
        reverse("organization_delete", args=[organization.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert html.lstrip().startswith("<dialog")
    assert f"Type “{organization.name}” to confirm" in html


def test_a_wrong_typed_name_deletes_nothing(owner_client, organization, project):
    response = owner_client.post(
        reverse("organization_delete", args=[organization.slug]), {"confirm_name": "something else"}
    )
    assert "exactly to confirm" in response.content.decode()
    assert Organization.objects.filter(pk=organization.pk).exists()
    assert not AuditEvent.objects.filter(action="organization.delete").exists()


def test_an_owner_deletes_the_organization_with_its_projects_and_the_record_survives(
    owner_client, organization, owner, member_factory
):
    ProjectFactory(organization=organization)
    ProjectFactory(organization=organization)
    member_factory(organization, Role.VIEWER)
    Invitation.objects.create(
        organization=organization, email="x@example.com", token_digest="d" * 64, expires=organization.created
    )
    name, pk = organization.name, organization.pk
    response = owner_client.post(
        reverse("organization_delete", args=[organization.slug]),
        {"confirm_name": name},
        headers={"HX-Request": "true"},
    )
    assert response["HX-Redirect"] == reverse("home")
    assert not Organization.objects.filter(pk=pk).exists()
    assert not Membership.objects.filter(organization_id=pk).exists()
    assert not Invitation.objects.filter(organization_id=pk).exists()
    from projects.models import Project

    assert not Project.objects.filter(organization_id=pk).exists()
    event = AuditEvent.objects.get(action="organization.delete")
    assert event.organization is None
    assert event.organization_name == name
    assert event.actor_label == owner.email
    assert event.details["projects"] == 2
    # The owner has no organization left and is asked to create one.
    follow = owner_client.get("/", follow=True)
    assert f"Organization “{name}” and everything in it was deleted." in follow.content.decode()
