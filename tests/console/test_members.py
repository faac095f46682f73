"""Settings › Members: roles, removal, leaving; the last owner always remains."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from console import services
from console.audit import Actor
from console.models import AuditEvent, Membership, Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

ACTOR = Actor.command("test")


def role_of(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def test_admin_changes_a_developers_role_and_it_is_audited(organization, member_factory):
    admin = member_factory(organization, Role.ADMIN)
    developer = member_factory(organization, Role.DEVELOPER)
    services.membership_role_change(membership=developer, role=Role.VIEWER, by=admin, actor=ACTOR)
    assert role_of(developer) == Role.VIEWER
    event = AuditEvent.objects.get(action="member.role_change")
    assert event.target_label == developer.user.email
    assert event.details == {"from": "developer", "to": "viewer"}


@pytest.mark.parametrize(
    ("target_role", "new_role"), [(Role.OWNER, Role.ADMIN), (Role.DEVELOPER, Role.OWNER)]
)
def test_only_owners_make_or_demote_owners(organization, member_factory, target_role, new_role):
    member_factory(organization, Role.OWNER)
    admin = member_factory(organization, Role.ADMIN)
    target = member_factory(organization, target_role)
    with pytest.raises(PermissionDenied):
        services.membership_role_change(membership=target, role=new_role, by=admin, actor=ACTOR)
    assert role_of(target) == target_role


def test_developers_cannot_change_roles(organization, member_factory):
    developer = member_factory(organization, Role.DEVELOPER)
    viewer = member_factory(organization, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.membership_role_change(membership=viewer, role=Role.DEVELOPER, by=developer, actor=ACTOR)
    assert role_of(viewer) == Role.VIEWER


def test_the_last_owner_cannot_be_demoted_even_by_themself(organization, member_factory):
    owner = member_factory(organization, Role.OWNER)
    with pytest.raises(ValidationError, match="only owner"):
        services.membership_role_change(membership=owner, role=Role.ADMIN, by=owner, actor=ACTOR)
    assert role_of(owner) == Role.OWNER
    assert not AuditEvent.objects.filter(action="member.role_change").exists()


def test_an_owner_can_step_down_when_another_owner_remains(organization, member_factory):
    owner = member_factory(organization, Role.OWNER)
    member_factory(organization, Role.OWNER)
    services.membership_role_change(membership=owner, role=Role.ADMIN, by=owner, actor=ACTOR)
    assert role_of(owner) == Role.ADMIN


def test_the_last_owner_can_neither_leave_nor_be_removed(organization, member_factory):
    owner = member_factory(organization, Role.OWNER)
    with pytest.raises(ValidationError, match="cannot leave"):
        services.membership_leave(membership=owner, actor=ACTOR)
    with pytest.raises(ValidationError, match="cannot be removed"):
        services.membership_remove(membership=owner, by=owner, actor=ACTOR)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_a_member_leaves_and_it_is_audited(organization, member_factory):
    viewer = member_factory(organization, Role.VIEWER)
    services.membership_leave(membership=viewer, actor=ACTOR)
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    assert AuditEvent.objects.get(action="member.leave").target_label == viewer.user.email


def test_admin_cannot_remove_an_owner_but_an_owner_can(organization, member_factory):
    owner = member_factory(organization, Role.OWNER)
    other_owner = member_factory(organization, Role.OWNER)
    admin = member_factory(organization, Role.ADMIN)
    with pytest.raises(PermissionDenied):
        services.membership_remove(membership=other_owner, by=admin, actor=ACTOR)
    services.membership_remove(membership=other_owner, by=owner, actor=ACTOR)
    assert not Membership.objects.filter(pk=other_owner.pk).exists()


# Through the pages --------------------------------------------------------------------------


def test_members_page_lists_name_email_role_and_joined(owner_client, organization, owner, member_factory):
    developer = member_factory(organization, Role.DEVELOPER)
    html = owner_client.get(reverse("organization_members", args=[organization.slug])).content.decode()
    for text in (developer.user.email, developer.user.name, owner.email, "Joined", "Invite member"):
        assert text in html
    assert f"Role of {developer.user.email}" in html


def test_a_viewer_sees_the_members_read_only(client, organization, member_factory):
    member_factory(organization, Role.OWNER)
    viewer = member_factory(organization, Role.VIEWER)
    client.force_login(viewer.user)
    html = client.get(reverse("organization_members", args=[organization.slug])).content.decode()
    assert viewer.user.email in html
    assert "Invite member" not in html
    assert "Change role" not in html
    assert "Pending invitations" not in html
    assert "Audit log" not in html


def test_changing_a_role_through_the_page(owner_client, organization, member_factory):
    developer = member_factory(organization, Role.DEVELOPER)
    url = reverse("member_role_change", args=[organization.slug, developer.pk])
    response = owner_client.post(url, {"role": "viewer"}, follow=True)
    assert f"{developer.user.email} is now Viewer." in response.content.decode()
    assert role_of(developer) == Role.VIEWER


def test_demoting_the_last_owner_through_the_page_says_why(owner_client, organization, owner):
    membership = Membership.objects.get(user=owner, organization=organization)
    url = reverse("member_role_change", args=[organization.slug, membership.pk])
    response = owner_client.post(url, {"role": "viewer"}, follow=True)
    assert "is the only owner" in response.content.decode()
    assert role_of(membership) == Role.OWNER


def test_an_admin_cannot_make_an_owner_through_the_page(client, organization, member_factory):
    member_factory(organization, Role.OWNER)
    admin = member_factory(organization, Role.ADMIN)
    developer = member_factory(organization, Role.DEVELOPER)
    client.force_login(admin.user)
    html = client.get(reverse("organization_members", args=[organization.slug])).content.decode()
    assert 'value="owner"' not in html
    url = reverse("member_role_change", args=[organization.slug, developer.pk])
    assert client.post(url, {"role": "owner"}).status_code == 403
    assert role_of(developer) == Role.DEVELOPER


def test_removing_a_member_confirms_first_then_removes(owner_client, organization, member_factory):
    developer = member_factory(organization, Role.DEVELOPER)
    url = reverse("member_remove", args=[organization.slug, developer.pk])
    dialog = owner_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<dialog" in dialog and developer.user.email in dialog
    response = owner_client.post(url, headers={"HX-Request": "true"})
    assert response["HX-Redirect"] == reverse("organization_members", args=[organization.slug])
    assert not Membership.objects.filter(pk=developer.pk).exists()


def test_a_member_of_another_organization_is_not_found(owner_client, organization):
    foreign = MembershipFactory(role=Role.DEVELOPER)
    url = reverse("member_role_change", args=[organization.slug, foreign.pk])
    assert owner_client.post(url, {"role": "viewer"}).status_code == 404
    assert role_of(foreign) == Role.DEVELOPER


def test_leaving_through_the_page_lands_home(client, organization, member_factory):
    member_factory(organization, Role.OWNER)
    viewer = member_factory(organization, Role.VIEWER)
    client.force_login(viewer.user)
    response = client.post(reverse("organization_leave", args=[organization.slug]), follow=True)
    assert f"You left {organization.name}." in response.content.decode()
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_the_last_owner_is_told_they_cannot_leave(owner_client, organization, owner):
    settings_html = owner_client.get(
        reverse("organization_settings", args=[organization.slug])
    ).content.decode()
    assert "you cannot leave it" in settings_html
    response = owner_client.post(reverse("organization_leave", args=[organization.slug]))
    assert "is the only owner" in response.content.decode()
    assert Membership.objects.filter(user=owner, organization=organization).exists()
