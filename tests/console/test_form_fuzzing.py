"""Arbitrary input to every console form and filter: never a server error, never live markup."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from console import services
from console.audit import Actor
from console.models import Role
from tests.factories import ProjectFactory
from tests.fuzzing import assert_handled, forms, text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
query_values = st.dictionaries(st.sampled_from(["range", "project", "product", "page"]), text, max_size=4)


@forms
@given(name=text, slug=text)
def test_new_organization(owner_client, name, slug):
    assert_handled(owner_client.post(reverse("organization_create"), {"name": name, "slug": slug}))


@forms
@given(name=text, htmx=st.booleans())
def test_rename_organization(owner_client, organization, name, htmx):
    url = reverse("organization_settings", args=[organization.slug])
    assert_handled(owner_client.post(url, {"name": name}, headers=HTMX if htmx else {}))


@forms
@given(confirm_name=text)
def test_delete_organization_confirmation(owner_client, organization, confirm_name):
    url = reverse("organization_delete", args=[organization.slug])
    response = owner_client.post(url, {"confirm_name": confirm_name})
    assert_handled(response)


@forms
@given(email=text, role=st.one_of(st.sampled_from(Role.values), text))
def test_invite_a_member(owner_client, organization, email, role):
    cache.clear()
    url = reverse("invitation_create", args=[organization.slug])
    assert_handled(owner_client.post(url, {"email": email, "role": role}, headers=HTMX))


@forms
@given(role=st.one_of(st.sampled_from(Role.values), text))
def test_change_a_members_role(owner_client, organization, member_factory, role):
    member = member_factory(organization, Role.DEVELOPER)
    url = reverse("member_role_change", args=[organization.slug, member.pk])
    assert_handled(owner_client.post(url, {"role": role}, headers=HTMX))


@forms
@given(token=text, name=text, password1=text, password2=text)
def test_accept_an_invitation_and_sign_up(organization, owner, token, name, password1, password2):
    cache.clear()
    admin = organization.memberships.get(user=owner)
    invitation, valid_token = services.invitation_create(
        organization=organization,
        email=f"invitee-{uuid.uuid4().hex}@example.com",
        role=Role.DEVELOPER,
        by=admin,
        actor=Actor.command("test"),
    )
    for candidate in (valid_token, token):
        if not candidate or "/" in candidate:
            continue
        url = reverse("invitation_accept", args=[candidate])
        response = Client().post(url, {"name": name, "password1": password1, "password2": password2})
        assert_handled(response)


@forms
@given(username=text, password=text)
def test_log_in(client, username, password):
    assert_handled(client.post(reverse("login"), {"username": username, "password": password}))


@forms
@given(query=query_values, htmx=st.booleans())
def test_usage_filters(owner_client, organization, query, htmx):
    ProjectFactory(organization=organization)
    for name in ("usage", "usage_export"):
        url = reverse(name, args=[organization.slug])
        assert_handled(owner_client.get(url, query, headers=HTMX if htmx else {}))


@forms
@given(action=text, actor=text, before=text, htmx=st.booleans())
def test_audit_log_filters(owner_client, organization, action, actor, before, htmx):
    url = reverse("organization_audit_log", args=[organization.slug])
    query = {"action": action, "actor": actor, "before": before}
    assert_handled(owner_client.get(url, query, headers=HTMX if htmx else {}))


@forms
@given(page=text)
def test_overview_pages(owner_client, organization, page):
    assert_handled(
        owner_client.get(reverse("organization_overview", args=[organization.slug]), {"page": page})
    )
