from __future__ import annotations

import pytest
from django.urls import reverse

from console.models import AuditEvent, Membership, Organization, Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    page = client.get(reverse("login"))
    assert b"Log in" in page.content


def test_login_lands_on_the_overview_of_the_users_organization(client, owner, organization, project):
    response = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("organization_overview", args=[organization.slug])
    assert project.name in response.content.decode()
    assert reverse("projects:dashboard", args=[organization.slug, project.pk]) in response.content.decode()


def test_wrong_password_is_told_plainly(client, owner):
    response = client.post(reverse("login"), {"username": owner.email, "password": "wrong"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_logout_is_a_post_and_ends_the_session(owner_client):
    assert owner_client.get(reverse("logout")).status_code == 405
    response = owner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert owner_client.get("/").status_code == 302


def test_the_login_page_confirms_a_logout(owner_client):
    page = owner_client.post(reverse("logout"), follow=True).content.decode()
    assert "Log in" in page and "You are logged out." in page


@pytest.mark.parametrize("embedded", [True, False])
def test_the_login_page_says_how_to_get_the_demo_login_in_the_embedded_mode_only(client, settings, embedded):
    settings.EMBEDDED = embedded
    page = client.get(reverse("login")).content.decode()
    assert ("demo@example.com" in page) is embedded
    assert ("DEMO_PASSWORD" in page) is embedded


def test_password_change(owner_client, owner):
    response = owner_client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a much longer passphrase 42",
            "new_password2": "a much longer passphrase 42",
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a much longer passphrase 42")


def test_overview_says_when_there_are_no_projects(owner_client, organization):
    response = owner_client.get(reverse("organization_overview", args=[organization.slug]))
    assert "has no projects yet" in response.content.decode()


def test_switcher_lists_every_organization_of_the_user(owner_client, owner):
    other = MembershipFactory(user=owner, role=Role.VIEWER).organization
    response = owner_client.get("/", follow=True)
    html = response.content.decode()
    assert reverse("organization_overview", args=[other.slug]) in html
    # The last organization visited is where "/" leads next time.
    owner_client.get(reverse("organization_overview", args=[other.slug]))
    assert owner_client.get("/")["Location"] == reverse("organization_overview", args=[other.slug])


def test_user_without_organization_is_asked_to_create_one(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get("/", follow=True)
    assert "not a member of any organization yet" in response.content.decode()


def test_creating_an_organization_makes_the_creator_owner(owner_client, owner):
    response = owner_client.post(reverse("organization_create"), {"name": "  Acme   Labs ", "slug": ""})
    organization = Organization.objects.get(name="Acme Labs")
    assert response["Location"] == reverse("organization_overview", args=[organization.slug])
    assert organization.slug == "acme-labs"
    assert Membership.objects.get(organization=organization, user=owner).role == Role.OWNER
    assert AuditEvent.objects.filter(organization=organization, action="organization.create").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "slug": ""}, "This field is required."),
        ({"name": "x" * 300, "slug": ""}, "at most 100 characters"),
        ({"name": "Fine", "slug": "Not A Slug!"}, "Enter a valid “slug”"),
    ],
)
def test_bad_organization_input_is_explained_and_nothing_is_created(owner_client, data, message):
    before = Organization.objects.count()
    response = owner_client.post(reverse("organization_create"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Organization.objects.count() == before


def test_a_taken_slug_is_refused(owner_client, organization):
    before = Organization.objects.count()
    response = owner_client.post(
        reverse("organization_create"), {"name": "Copycat", "slug": organization.slug}
    )
    assert f"The slug “{organization.slug}” is already taken." in response.content.decode()
    assert Organization.objects.count() == before


def test_a_name_whose_slug_is_taken_gets_a_free_one(owner_client, organization):
    owner_client.post(
        reverse("organization_create"), {"name": organization.slug.replace("-", " "), "slug": ""}
    )
    assert Organization.objects.filter(slug=f"{organization.slug}-2").exists()


def test_organization_pages_of_another_organization_are_not_found(outsider_client, organization, project):
    for url in (
        reverse("organization_overview", args=[organization.slug]),
        reverse("organization_settings", args=[organization.slug]),
        reverse("projects:dashboard", args=[organization.slug, project.pk]),
    ):
        assert outsider_client.get(url).status_code == 404, url


def test_a_project_is_not_found_under_another_organizations_slug(client):
    """Scoping covers the pair: a member of A cannot reach B's project through A's slug."""
    membership = MembershipFactory()
    foreign_project = ProjectFactory()
    client.force_login(membership.user)
    url = reverse("projects:dashboard", args=[membership.organization.slug, foreign_project.pk])
    assert client.get(url).status_code == 404


def test_unknown_organization_is_not_found(owner_client):
    assert owner_client.get(reverse("organization_overview", args=["no-such-org"])).status_code == 404


def test_project_page_shows_the_name_and_tabs(owner_client, organization, project):
    response = owner_client.get(reverse("projects:dashboard", args=[organization.slug, project.pk]))
    html = response.content.decode()
    assert project.name in html
    assert "Dashboard" in html


def test_pages_carry_the_csrf_header_for_htmx_and_load_htmx_locally(owner_client, organization):
    html = owner_client.get(reverse("organization_overview", args=[organization.slug])).content.decode()
    assert 'hx-headers=\'{"x-csrftoken": "' in html
    assert "/static/django-htmx/" in html or "/static/django_htmx/" in html or "htmx.min.js" in html
    assert "unpkg.com" not in html and "cdn" not in html.lower()


def test_the_overview_pages_through_many_projects(owner_client, organization):
    for n in range(60):
        ProjectFactory(organization=organization, name=f"Project {n:02d}")
    url = reverse("organization_overview", args=[organization.slug])
    first = owner_client.get(url).content.decode()
    assert "Project 49" in first and "Project 50" not in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = owner_client.get(url, {"page": 2}).content.decode()
    assert "Project 50" in second and "Project 59" in second and "Project 49" not in second
