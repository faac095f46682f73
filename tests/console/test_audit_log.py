"""Settings › Audit log: who did what to which object, from where and when; newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.models import AuditEvent, Role
from console.selectors import AUDIT_PAGE_SIZE, AuditCursor
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def make_events(organization, count, *, action="project.create", actor="someone@example.com", start=None):
    start = start or timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization,
            organization_name=organization.name,
            actor_label=actor,
            action=action,
            target_type="project",
            target_label=f"Project {n:05d}",
            ip_address="203.0.113.7",
            created=start - timedelta(seconds=n),
        )
        for n in range(count)
    )


def audit_url(organization, **query):
    url = reverse("organization_audit_log", args=[organization.slug])
    if query:
        from urllib.parse import urlencode

        url += "?" + urlencode(query)
    return url


def test_each_row_says_who_did_what_to_what_from_where_and_when(owner_client, organization, owner):
    owner_client.post(reverse("organization_settings", args=[organization.slug]), {"name": "Renamed Org"})
    html = owner_client.get(audit_url(organization)).content.decode()
    assert owner.email in html
    assert "Organization renamed" in html and "organization.rename<" not in html
    assert "Renamed Org" in html
    assert "127.0.0.1" in html
    assert "<time datetime=" in html


def test_rows_say_what_happened_in_words_not_codes(owner_client, organization):
    """Action codes, detail keys, yes/no and target types read as words; an unknown code is spelled out."""
    AuditEvent.objects.create(
        organization=organization,
        organization_name=organization.name,
        actor_label="ada@example.com",
        action="invitation.accept",
        target_type="user",
        target_label="ada@example.com",
        details={"email": "ada@example.com", "role": "developer"},
    )
    AuditEvent.objects.create(
        organization=organization,
        organization_name=organization.name,
        actor_label="manage.py seeddemo",
        action="pulse.enable",
        target_type="project",
        target_label="Storefront",
        details={"slot": "console_pulse_1", "reused_slot": False, "tables": ["users", "posts"]},
    )
    AuditEvent.objects.create(
        organization=organization,
        organization_name=organization.name,
        actor_label="ada@example.com",
        action="accelerate.update",
        target_type="apikey",
        target_label="ci",
        details={"changed": ["region", "pool_timeout_seconds"], "some_new_field": None},
    )
    AuditEvent.objects.create(
        organization=organization,
        organization_name=organization.name,
        actor_label="ada@example.com",
        action="something.nobody_named",
    )
    rows = owner_client.get(audit_url(organization)).content.decode().split("<tbody>")[1]
    assert "Invitation accepted" in rows and "invitation.accept" not in rows
    assert "Pulse enabled" in rows and "Reused an existing slot: no" in rows and "reused_slot" not in rows
    assert "Replication slot: console_pulse_1" in rows and "Tables: users, posts" in rows
    assert "Accelerate settings changed" in rows and "Changed: Region, Pool timeout (s)" in rows
    assert "Some new field: —" in rows
    assert "API key</span> ci" in rows and "User</span> ada@example.com" in rows
    assert "Something nobody named" in rows


def test_newest_first_with_load_more_that_is_a_plain_link(owner_client, organization):
    AuditEvent.objects.all().delete()
    make_events(organization, AUDIT_PAGE_SIZE + 10)
    html = owner_client.get(audit_url(organization)).content.decode()
    assert html.index("Project 00000") < html.index("Project 00001")
    assert f"Project {AUDIT_PAGE_SIZE - 1:05d}" in html
    assert f"Project {AUDIT_PAGE_SIZE:05d}" not in html
    next_href = html.split('class="load-more"')[1].split('href="')[1].split('"')[0].replace("&amp;", "&")
    # Without JavaScript the link is a page of the older events…
    page_two = owner_client.get(audit_url(organization) + next_href).content.decode()
    assert f"Project {AUDIT_PAGE_SIZE:05d}" in page_two
    assert f"Project {AUDIT_PAGE_SIZE + 9:05d}" in page_two
    assert "Project 00000<" not in page_two
    assert "Load more" not in page_two
    # …and with htmx it answers just the rows to append.
    fragment = owner_client.get(
        audit_url(organization) + next_href, headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith("<tr>")
    assert "<h1>" not in fragment
    assert f"Project {AUDIT_PAGE_SIZE:05d}" in fragment


def test_events_of_the_same_instant_are_neither_skipped_nor_repeated(organization):
    from console.selectors import audit_log_page

    AuditEvent.objects.all().delete()
    same = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization, organization_name="x", actor_label="a", action="x", created=same
        )
        for _ in range(7)
    )
    seen, cursor = [], None
    while True:
        page = audit_log_page(organization=organization, before=cursor, limit=3)
        seen += [event.pk for event in page.events]
        if page.next_cursor is None:
            break
        cursor = AuditCursor.decode(page.next_cursor.encode())
    assert sorted(seen) == sorted(AuditEvent.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 7


def test_filter_by_action_and_actor(owner_client, organization):
    make_events(organization, 3, action="api_key.create", actor="alice@example.com")
    make_events(organization, 3, action="project.delete", actor="bob@example.com")
    html = owner_client.get(audit_url(organization, action="project.delete")).content.decode()
    rows = html.split("<tbody>")[1]
    assert "Project deleted" in rows and "API key created" not in rows
    html = owner_client.get(audit_url(organization, actor="alice@example.com")).content.decode()
    rows = html.split("<tbody>")[1]
    assert "alice@example.com" in rows and "bob@example.com" not in rows
    # The filters offer what is in this organization's log.
    assert '<option value="api_key.create">API key created</option>' in html
    assert '<option value="bob@example.com"' in html
    none = owner_client.get(audit_url(organization, action="nothing.like.this")).content.decode()
    assert "No events match this filter." in none


def test_another_organizations_events_never_show(owner_client, organization):
    other = MembershipFactory().organization
    make_events(other, 2, actor="elsewhere@example.com")
    html = owner_client.get(audit_url(organization)).content.decode()
    assert "elsewhere@example.com" not in html


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER])
def test_only_admins_and_owners_see_the_audit_log(client, organization, member_factory, role):
    member = member_factory(organization, role)
    client.force_login(member.user)
    assert client.get(audit_url(organization)).status_code == 403
    settings_page = client.get(reverse("organization_settings", args=[organization.slug])).content.decode()
    assert "Audit log" not in settings_page


def test_the_query_count_does_not_grow_with_the_log(owner_client, organization):
    make_events(organization, 5)
    with CaptureQueriesContext(connection) as small:
        owner_client.get(audit_url(organization))
    make_events(organization, 300, start=timezone.now() - timedelta(days=1), actor="other@example.com")
    with CaptureQueriesContext(connection) as large:
        html = owner_client.get(audit_url(organization)).content.decode()
    assert "Load more" in html
    assert len(large) == len(small)


@pytest.mark.parametrize(
    "before",
    [
        "999999999999999999.1",  # a time past the year 9999 (OverflowError)
        "1.99999999999999999999",  # an id past bigint
        "not-a-cursor",
        "12345",
        ".7",
    ],
)
def test_a_cursor_this_page_did_not_make_is_a_400_not_a_server_error(owner_client, organization, before):
    make_events(organization, 3)
    response = owner_client.get(audit_url(organization, before=before))
    assert response.status_code == 400


def test_the_cursor_of_load_more_still_pages(owner_client, organization):
    make_events(organization, AUDIT_PAGE_SIZE + 1)
    newest = AuditEvent.objects.filter(organization=organization).order_by("-created", "-id")[0]
    cursor = AuditCursor(created=newest.created, id=newest.pk).encode()
    response = owner_client.get(audit_url(organization, before=cursor))
    assert response.status_code == 200
    assert newest.target_label not in response.content.decode()
