from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from console.audit import Actor
from console.models import AuditEvent, Role
from projects.models import ApiKey, Project
from projects.services import api_key_authenticate, api_key_create
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def url(name, project, *args):
    return reverse(f"projects:{name}", args=[project.organization.slug, project.pk, *args])


def client_for(organization, role):
    client = Client()
    client.force_login(MembershipFactory(organization=organization, role=role).user)
    return client


# Projects ------------------------------------------------------------------------------------


def test_new_project_from_the_overview_opens_its_dashboard(owner_client, organization):
    overview = owner_client.get(reverse("organization_overview", args=[organization.slug])).content.decode()
    assert "New project" in overview
    dialog = owner_client.get(reverse("projects:create", args=[organization.slug]), headers=HTMX)
    assert b"<dialog" in dialog.content
    response = owner_client.post(
        reverse("projects:create", args=[organization.slug]), {"name": "  Storefront  "}, headers=HTMX
    )
    project = Project.objects.get(organization=organization, name="Storefront")
    assert response["HX-Redirect"] == url("dashboard", project)
    page = owner_client.get(url("dashboard", project)).content.decode()
    assert "Project “Storefront” created." in page
    assert AuditEvent.objects.filter(action="project.create", target_id=str(project.pk)).exists()


def test_new_project_works_without_javascript(owner_client, organization):
    page = owner_client.get(reverse("projects:create", args=[organization.slug]))
    assert b"<dialog" not in page.content and b"Create project" in page.content
    response = owner_client.post(reverse("projects:create", args=[organization.slug]), {"name": "Web"})
    assert response.status_code == 302
    assert Project.objects.filter(organization=organization, name="Web").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [("   ", "This field is required."), ("x" * 101, "at most 100 characters")],
)
def test_bad_project_names_are_explained_in_the_dialog(owner_client, organization, name, message):
    response = owner_client.post(
        reverse("projects:create", args=[organization.slug]), {"name": name}, headers=HTMX
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="project-create-form"' in response.content.decode()
    assert not Project.objects.filter(organization=organization).exists()


def test_a_double_submitted_new_project_form_creates_one_project(owner_client, organization):
    create = reverse("projects:create", args=[organization.slug])
    owner_client.post(create, {"name": "Storefront"})
    response = owner_client.post(create, {"name": "storefront"})
    assert "already exists" in response.content.decode()
    assert Project.objects.filter(organization=organization).count() == 1


def test_viewers_cannot_create_projects(organization):
    viewer = client_for(organization, Role.VIEWER)
    overview = viewer.get(reverse("organization_overview", args=[organization.slug])).content.decode()
    assert "New project" not in overview
    assert viewer.post(reverse("projects:create", args=[organization.slug]), {"name": "X"}).status_code == 403
    assert not Project.objects.exists()


def test_developers_can_create_projects(organization):
    developer = client_for(organization, Role.DEVELOPER)
    developer.post(reverse("projects:create", args=[organization.slug]), {"name": "Dev project"})
    assert Project.objects.filter(name="Dev project").exists()


def test_project_tabs_and_settings_subtabs(owner_client, project):
    html = owner_client.get(url("settings", project)).content.decode()
    for label in ("Dashboard", "Settings", "General", "Project API keys", "Project name", "Update"):
        assert label in html
    assert url("api_keys", project) in html


# Dashboard -----------------------------------------------------------------------------------


def test_dashboard_get_started_without_keys(owner_client, project):
    html = owner_client.get(url("dashboard", project)).content.decode()
    assert "Get Started" in html
    assert "No API keys yet" in html
    assert "Manage API keys" not in html
    assert "Configure Accelerate" in html and "Enable Pulse" in html
    assert "Not configured" in html


def test_dashboard_offers_early_access_where_the_organization_has_none(owner_client, project, settings):
    settings.ACCELERATE_OPEN_ACCESS = False
    settings.PULSE_OPEN_ACCESS = False
    html = owner_client.get(url("dashboard", project)).content.decode()
    assert "Request access" in html and "Join the wait list" in html
    assert "Configure Accelerate</a>" not in html and "Enable Pulse</a>" not in html

    from console.access import product_access_grant
    from console.audit import Actor

    product_access_grant(organization=project.organization, product="pulse", actor=Actor.command("test"))
    html = owner_client.get(url("dashboard", project)).content.decode()
    assert "Enable Pulse</a>" in html and "Join the wait list" not in html
    assert "Request access" in html


def test_dashboard_links_to_the_keys_when_the_project_has_some(owner_client, project):
    ApiKeyFactory(project=project)
    ApiKeyFactory(project=project)
    html = owner_client.get(url("dashboard", project)).content.decode()
    assert "Done · 2 keys" in html
    assert "Manage API keys" in html
    assert f'href="{url("api_keys", project)}"' in html


# Settings → General --------------------------------------------------------------------------


def test_a_rename_shows_the_page_anew_with_the_new_name_everywhere(owner_client, project):
    """No stale piece: the title, the breadcrumb and the heading all say the new name."""
    old = project.name
    response = owner_client.post(url("settings", project), {"name": "Renamed"}, headers=HTMX)
    assert response.headers["HX-Redirect"] == url("settings", project)
    html = owner_client.get(response.headers["HX-Redirect"]).content.decode()
    assert "Project name updated." in html
    assert "<title>Renamed · Settings" in html
    assert "</a> / Renamed</p>" in html  # the breadcrumb
    assert '<h1 id="project-title">Renamed</h1>' in html
    assert old not in html
    project.refresh_from_db()
    assert project.name == "Renamed"
    event = AuditEvent.objects.get(action="project.rename")
    assert event.details["to"] == "Renamed"


def test_rename_without_javascript_redirects_with_a_message(owner_client, project):
    response = owner_client.post(url("settings", project), {"name": "Renamed"}, follow=True)
    assert "Project name updated." in response.content.decode()


@pytest.mark.parametrize(("name", "message"), [("", "This field is required."), ("y" * 101, "at most 100")])
def test_bad_rename_is_explained_inline_and_changes_nothing(owner_client, project, name, message):
    old = project.name
    response = owner_client.post(url("settings", project), {"name": name}, headers=HTMX)
    assert message in response.content.decode()
    project.refresh_from_db()
    assert project.name == old


def test_rename_to_another_projects_name_is_refused(owner_client, project):
    other = ProjectFactory(organization=project.organization, name="Taken")
    response = owner_client.post(url("settings", project), {"name": "taken"}, headers=HTMX)
    assert "already exists" in response.content.decode()
    assert Project.objects.get(pk=other.pk).name == "Taken"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.DEVELOPER])
def test_only_admins_and_owners_rename_or_delete(project, role):
    client = client_for(project.organization, role)
    html = client.get(url("settings", project)).content.decode()
    assert "Delete project" not in html and "Update" not in html
    assert client.post(url("settings", project), {"name": "Nope"}).status_code == 403
    assert client.get(url("delete", project)).status_code == 403
    assert client.post(url("delete", project), {"confirm_name": project.name}).status_code == 403
    assert Project.objects.get(pk=project.pk).name != "Nope"


def test_admins_rename(project):
    client = client_for(project.organization, Role.ADMIN)
    client.post(url("settings", project), {"name": "By admin"})
    project.refresh_from_db()
    assert project.name == "By admin"


def test_delete_project_needs_the_exact_name(owner_client, project):
    dialog = owner_client.get(url("delete", project), headers=HTMX).content.decode()
    assert "irreversible" in dialog and "API keys" in dialog and "connection strings" in dialog
    response = owner_client.post(url("delete", project), {"confirm_name": "wrong"}, headers=HTMX)
    assert "Type it exactly as shown" in response.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()


def test_delete_project_takes_its_keys_and_returns_to_the_overview(owner_client, project):
    api_key, raw_key = api_key_create(project=project, name="Prod", actor=Actor.command("test"))
    response = owner_client.post(url("delete", project), {"confirm_name": project.name}, headers=HTMX)
    overview = reverse("organization_overview", args=[project.organization.slug])
    assert response["HX-Redirect"] == overview
    assert (
        f"Project “{project.name}” and its API keys were deleted."
        in owner_client.get(overview).content.decode()
    )
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not ApiKey.objects.filter(pk=api_key.pk).exists()
    assert api_key_authenticate(raw_key) is None
    assert AuditEvent.objects.get(action="project.delete").details["api_keys"] == 1


def test_deleting_a_deleted_project_again_is_not_found(owner_client, project):
    owner_client.post(url("delete", project), {"confirm_name": project.name})
    assert owner_client.post(url("delete", project), {"confirm_name": project.name}).status_code == 404


# Settings → Project API keys -----------------------------------------------------------------


def test_keys_table_shows_name_prefix_creator_and_no_secret(owner_client, owner, project):
    api_key, raw_key = api_key_create(
        project=project, name="Production", actor=Actor(user=owner, label=owner.email), expires_in_days=30
    )
    html = owner_client.get(url("api_keys", project)).content.decode()
    assert "Production" in html
    assert api_key.masked in html and api_key.masked.startswith("dpk_") and len(api_key.prefix) == 8
    assert owner.display_name in html
    assert "Never" in html  # last used
    assert raw_key not in html and raw_key[12:] not in html
    assert api_key.digest not in html
    assert 'aria-label="Delete API key Production"' in html


def test_create_key_shows_it_once_in_the_dialog(owner_client, project):
    dialog = owner_client.get(url("api_key_create", project), headers=HTMX).content.decode()
    assert "Create API Key" in dialog and "<dialog" in dialog
    response = owner_client.post(
        url("api_key_create", project), {"name": "CI", "expires_in_days": "90"}, headers=HTMX
    )
    html = response.content.decode()
    assert response["HX-Trigger"] == '{"apiKeyCreated": {}}'
    assert "no-store" in response["Cache-Control"]
    assert "I've stored it securely" in html and "will not be shown again" in html
    assert 'data-copy="#new-api-key"' in html
    api_key = ApiKey.objects.get(project=project, name="CI")
    raw_key = html.split('<code id="new-api-key" hx-history="false">')[1].split("</code")[0]
    # Said once, in the same words as the examples on the product tabs.
    assert "in place of <code>__API_KEY__</code>" in html and "<code>PRISMA_API_KEY</code>" in html
    assert raw_key.startswith("dpk_" + api_key.prefix)
    assert api_key_authenticate(raw_key) == api_key
    assert api_key.expires is not None and (api_key.expires - api_key.created).days == 90
    # The table refresh (and every later page) has the name and prefix, never the key.
    table = owner_client.get(url("api_keys", project), headers=HTMX).content.decode()
    assert "CI" in table and api_key.masked in table and raw_key not in table
    assert "<html" not in table
    event = AuditEvent.objects.get(action="api_key.create")
    assert event.details == {"name": "CI", "prefix": api_key.masked, "project": project.name}
    assert raw_key not in str(event.details) and api_key.digest not in str(event.details)


def test_create_key_without_javascript(owner_client, project):
    response = owner_client.post(url("api_key_create", project), {"name": "No JS", "expires_in_days": ""})
    html = response.content.decode()
    assert response.status_code == 200 and "<dialog" not in html
    assert f'href="{url("api_keys", project)}">I\'ve stored it securely' in html
    assert ApiKey.objects.get(name="No JS").expires is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "k" * 65}, "at most 64 characters"),
        ({"name": "ok", "expires_in_days": "7"}, "Select a valid choice"),
    ],
)
def test_bad_key_input_is_explained_in_the_dialog(owner_client, project, data, message):
    response = owner_client.post(url("api_key_create", project), data, headers=HTMX)
    html = response.content.decode()
    assert message in html and "Create API Key" in html
    assert not ApiKey.objects.exists()


def test_a_key_name_used_in_the_project_is_refused(owner_client, project):
    ApiKeyFactory(project=project, name="Production")
    ApiKeyFactory(name="Elsewhere")  # another project may use any name
    response = owner_client.post(url("api_key_create", project), {"name": "production"}, headers=HTMX)
    assert "already has an API key named “production”" in response.content.decode()
    owner_client.post(url("api_key_create", project), {"name": "Elsewhere"}, headers=HTMX)
    assert ApiKey.objects.filter(project=project).count() == 2


def test_remove_key_with_htmx_shows_the_keys_page_without_it(owner_client, project):
    api_key, raw_key = api_key_create(project=project, name="Old", actor=Actor.command("test"))
    dialog = owner_client.get(url("api_key_delete", project, api_key.pk), headers=HTMX).content.decode()
    assert "Remove API key" in dialog and "irreversible" in dialog and "stops working" in dialog
    response = owner_client.post(url("api_key_delete", project, api_key.pk), headers=HTMX)
    # The one way a dialog finishes: htmx goes to the keys page, where the message is shown.
    assert response["HX-Redirect"] == url("api_keys", project)
    page = owner_client.get(response["HX-Redirect"]).content.decode()
    assert "API key “Old” removed." in page and "<code>dpk_" not in page
    assert not ApiKey.objects.exists()
    assert api_key_authenticate(raw_key) is None
    assert AuditEvent.objects.get(action="api_key.delete").details == {
        "name": "Old",
        "prefix": api_key.masked,
        "project": project.name,
    }
    # Submitted twice: a clear answer, nothing else happens.
    again = owner_client.post(url("api_key_delete", project, api_key.pk), follow=True)
    assert "had already been removed" in again.content.decode()
    assert AuditEvent.objects.filter(action="api_key.delete").count() == 1


def test_a_key_of_another_project_cannot_be_removed_here(owner_client, project):
    other = ApiKeyFactory(project=ProjectFactory(organization=project.organization))
    assert owner_client.get(url("api_key_delete", project, other.pk)).status_code == 404
    owner_client.post(url("api_key_delete", project, other.pk))
    assert ApiKey.objects.filter(pk=other.pk).exists()


def test_viewers_see_keys_but_cannot_create_or_delete_them(project):
    api_key = ApiKeyFactory(project=project, name="Visible")
    viewer = client_for(project.organization, Role.VIEWER)
    html = viewer.get(url("api_keys", project)).content.decode()
    assert "Visible" in html and api_key.masked in html
    assert "New API Key" not in html and "Delete API key" not in html
    assert viewer.get(url("api_key_create", project)).status_code == 403
    assert viewer.post(url("api_key_create", project), {"name": "Sneaky"}).status_code == 403
    assert viewer.get(url("api_key_delete", project, api_key.pk)).status_code == 403
    assert viewer.post(url("api_key_delete", project, api_key.pk)).status_code == 403
    assert list(ApiKey.objects.values_list("name", flat=True)) == ["Visible"]


def test_developers_manage_keys(project):
    developer = client_for(project.organization, Role.DEVELOPER)
    developer.post(url("api_key_create", project), {"name": "Dev"})
    api_key = ApiKey.objects.get(name="Dev")
    developer.post(url("api_key_delete", project, api_key.pk))
    assert not ApiKey.objects.exists()


# Tenancy -------------------------------------------------------------------------------------


def test_every_project_url_of_another_organization_is_not_found(outsider_client, project):
    api_key = ApiKeyFactory(project=project)
    org = project.organization.slug
    read_only = (url("dashboard", project), url("api_keys", project))
    writable = (
        url("settings", project),
        url("delete", project),
        url("api_key_create", project),
        url("api_key_delete", project, api_key.pk),
        reverse("projects:create", args=[org]),
    )
    for path in read_only + writable:
        assert outsider_client.get(path).status_code == 404, path
    for path in writable:
        assert outsider_client.post(path, {"name": "x", "confirm_name": project.name}).status_code == 404, (
            path
        )
    for path in read_only:  # the same answer for every project, so it tells nothing
        assert outsider_client.post(path).status_code == 405, path
    assert Project.objects.filter(pk=project.pk, name=project.name).exists()
    assert ApiKey.objects.filter(pk=api_key.pk).exists()
    assert Project.objects.count() == 1


def test_a_project_is_not_reachable_through_another_organizations_slug(project):
    member = MembershipFactory()
    client = Client()
    client.force_login(member.user)
    path = reverse("projects:settings", args=[member.organization.slug, project.pk])
    assert client.get(path).status_code == 404
    assert client.post(path, {"name": "Hijacked"}).status_code == 404


def test_no_tab_or_get_started_link_is_a_dead_end(owner_client, project):
    """The product tabs and steps link only to pages that exist (they appear once their apps do)."""
    ApiKeyFactory(project=project)
    html = owner_client.get(url("dashboard", project)).content.decode()
    tabs = html.split('aria-label="Project"')[1].split("</nav>")[0]
    steps = html.split('id="get-started"')[1].split("</section>")[0]
    hrefs = re.findall(r'href="([^"]+)"', tabs + steps)
    assert url("settings", project) in hrefs and url("api_keys", project) in hrefs
    for href in hrefs:
        assert owner_client.get(href).status_code == 200, href
