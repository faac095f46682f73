from __future__ import annotations

import html
import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from console.access import product_access_request
from console.audit import Actor
from console.models import Role
from projects.models import ApiKey
from projects.services import api_key_authenticate
from pulse.models import PulseConfig, PulseEvent
from pulse.services import pulse_disable, pulse_enable, pulse_slot_name
from tests.factories import ApiKeyFactory, MembershipFactory, OrganizationFactory
from tests.pulse.conftest import publication_names, run_sql, slot_names

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ACTOR = Actor.command("test")


def url(name, project, **kwargs):
    return reverse(
        f"pulse:{name}",
        kwargs={"organization_slug": project.organization.slug, "project_id": project.pk, **kwargs},
    )


@pytest.fixture
def open_access(settings):
    settings.PULSE_OPEN_ACCESS = True


def test_the_pulse_tab_is_404_for_another_organization(outsider_client, project):
    assert outsider_client.get(url("tab", project)).status_code == 404
    assert outsider_client.post(url("check", project), {"connection_string": "x"}).status_code == 404


def test_without_early_access_the_tab_offers_the_wait_list_and_shows_the_place(
    owner_client, project, settings
):
    settings.PULSE_OPEN_ACCESS = False
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Join the wait list" in page and "Prepare your database" not in page
    assert owner_client.post(url("check", project), {"connection_string": "x"}).status_code == 404

    earlier = OrganizationFactory()
    product_access_request(organization=earlier, product="pulse", actor=Actor.command("test"))
    response = owner_client.post(url("waitlist_join", project), follow=True)
    page = response.content.decode()
    assert "Your organization is on the Pulse wait list." in page
    assert "number 2</strong> in line" in page
    call_command("grantaccess", earlier.slug, "pulse", stdout=io.StringIO())
    assert "number 1</strong> in line" in owner_client.get(url("tab", project)).content.decode()

    call_command("grantaccess", project.organization.slug, "pulse", stdout=io.StringIO())
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Prepare your database" in page and "Join the wait list" not in page


def test_the_setup_page_has_both_documented_sections(owner_client, project, open_access):
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Prepare your database" in page
    assert "MySQL support is coming soon" in page
    assert 'hx-post="' + url("check", project) in page
    assert f"console_pulse_{project.short_id}" in page
    assert 'id="pulse-enable-button" disabled' in page  # nothing checked yet


def test_checking_the_machine_postgres_shows_the_failing_checks_with_the_fix(
    owner_client, project, open_access, machine_database
):
    response = owner_client.post(
        url("check", project), {"connection_string": machine_database.url, "tables": ""}, headers=HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert '<div id="pulse-readiness"' in page and "<html" not in page
    assert "Not ready yet" in page
    assert "wal_level is replica" in page
    assert "ALTER SYSTEM SET wal_level = logical;" in page
    assert f"ALTER ROLE {machine_database.role} WITH REPLICATION;" in page
    assert 'data-copy="#fix-wal_level"' in page
    assert 'hx-swap-oob="true"' in page and 'id="pulse-enable-button" disabled' in page
    assert machine_database.url.split(":")[2].split("@")[0] not in page  # the password


def test_checking_without_javascript_renders_the_whole_page(owner_client, project, open_access, source_url):
    response = owner_client.post(url("check", project), {"connection_string": source_url, "tables": ""})
    page = response.content.decode()
    assert "<html" in page and "Ready for Pulse" in page
    assert 'id="pulse-enable-button">' in page  # enabled
    assert f'value="{source_url}"' not in page  # the connection string is write-only


def test_a_viewer_sees_pulse_but_cannot_check_or_enable(client, project, open_access):
    viewer = MembershipFactory(organization=project.organization, role=Role.VIEWER).user
    client.force_login(viewer)
    page = client.get(url("tab", project)).content.decode()
    assert "Check database" not in page
    assert client.post(url("check", project), {"connection_string": "x"}).status_code == 403
    assert client.post(url("enable", project), {"connection_string": "x"}).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_enable_then_see_status_and_instructions_then_disable(
    owner_client, project, open_access, source_url, source_database
):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    response = owner_client.post(
        url("enable", project), {"connection_string": source_url, "region": "eu-west-1", "tables": "orders"}
    )
    assert response.status_code == 302
    page = owner_client.get(url("tab", project)).content.decode()
    name = pulse_slot_name(project)
    assert "Pulse is enabled for this project." in page
    assert f"<code>{name}</code>" in page and "public.orders" in page
    assert re.search(r"\d(\.\d)? (B|kB|MB) of WAL not yet captured", page)
    assert "No changes captured yet" in page
    assert "curl -N" in page and "http://testserver/pulse/v1/stream?model=orders" in page
    usage = reverse("usage", args=[project.organization.slug])
    assert f'href="{usage}?project={project.pk}&amp;product=pulse">View usage</a>' in page
    assert "Add a project API key" in page
    ApiKeyFactory(project=project)
    assert "Use one of this project's API keys" in owner_client.get(url("tab", project)).content.decode()

    status = owner_client.get(url("status", project), headers=HTMX).content.decode()
    assert status.strip().startswith('<dl id="pulse-status"') and 'hx-trigger="every 5s"' in status

    settings_page = owner_client.get(url("settings", project)).content.decode()
    assert "Europe (Ireland)" in settings_page and "Disable Pulse" in settings_page
    dialog = html.unescape(owner_client.get(url("disable", project), headers=HTMX).content.decode())
    assert dialog.strip().startswith("<dialog")
    assert f"SELECT pg_drop_replication_slot('{name}');\nDROP PUBLICATION IF EXISTS {name};" in dialog

    response = owner_client.post(url("disable", project), headers=HTMX)
    assert response.headers["HX-Redirect"] == url("tab", project)
    page = owner_client.get(url("tab", project)).content.decode()
    assert "were dropped from your database" in page
    assert slot_names(source_database) == [] and publication_names(source_database) == []
    assert "Prepare your database" in page


def test_enabling_a_database_that_is_not_ready_shows_why(
    owner_client, project, open_access, machine_database
):
    response = owner_client.post(
        url("enable", project),
        {"connection_string": machine_database.superuser_url, "region": "eu-west-1", "tables": ""},
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "fix the failing checks below" in page and "wal_level is replica" in page
    assert not PulseConfig.objects.exists()


def test_enabling_with_a_bad_region_or_table_name_is_refused(owner_client, project, open_access):
    response = owner_client.post(
        url("enable", project),
        {"connection_string": "postgresql://a@127.0.0.1/b", "region": "mars-1", "tables": ""},
    )
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = owner_client.post(
        url("enable", project),
        {"connection_string": "postgresql://a@127.0.0.1/b", "region": "eu-west-1", "tables": "a.b.c"},
    )
    assert "a.b.c is not a table name" in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_leftover_slot_is_shown_until_check_again_finds_the_database(
    owner_client, project, open_access, proxied_source, source_database
):
    proxy_url, proxy = proxied_source
    actor = Actor.command("test")
    pulse_enable(project=project, connection_string=proxy_url, region="eu-west-1", tables=[], actor=actor)
    proxy.stop()
    pulse_disable(project=project, actor=actor)
    name = pulse_slot_name(project)

    page = owner_client.get(url("tab", project)).content.decode()
    assert "A replication slot may still be in your database" in page
    assert f"SELECT pg_drop_replication_slot(&#x27;{name}&#x27;);" in page
    assert 'hx-trigger="load"' in page  # re-checked automatically when the tab opens

    fragment = owner_client.post(url("leftovers_check", project), headers=HTMX).content.decode()
    assert "A replication slot may still be in your database" in fragment
    assert "Could not connect to the database" in fragment
    assert 'hx-trigger="load"' not in fragment

    proxy.start()
    fragment = owner_client.post(url("leftovers_check", project), headers=HTMX).content.decode()
    assert "A replication slot may still be in your database" not in fragment
    assert slot_names(source_database) == []


# The demo database, the form's behaviour, the snippets and the live status -----------------------


def test_the_form_offers_the_demo_database_in_the_embedded_mode_only(
    owner_client, project, open_access, settings
):
    settings.EMBEDDED = True
    assert "Use the demo database" in owner_client.get(url("tab", project)).content.decode()
    settings.EMBEDDED = False
    assert "Use the demo database" not in owner_client.get(url("tab", project)).content.decode()
    response = owner_client.post(url("enable", project), {"use_demo_database": "1", "region": "eu-west-1"})
    assert "There is no demo database here" in response.content.decode()
    assert not PulseConfig.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_use_the_demo_database_enables_pulse_on_its_tables(owner_client, project, open_access, demo_sandbox):
    from console.demo import demo_database_url
    from userdb.encryption import decrypt

    response = owner_client.post(
        url("enable", project), {"use_demo_database": "1", "region": "eu-west-1", "tables": ""}, headers=HTMX
    )
    assert response.headers["HX-Redirect"] == url("tab", project)
    config = PulseConfig.objects.get(project=project)
    assert config.enabled and decrypt(config.connection_string) == demo_database_url()
    assert config.tables == ["public.users", "public.posts"]
    pulse_disable(project=project, actor=Actor.command("test"))


def test_an_error_comes_back_on_the_form_for_htmx_without_the_connection_string(
    owner_client, project, open_access
):
    typed = "postgresql://app:keep-me-secret@127.0.0.1:1/app"
    response = owner_client.post(
        url("enable", project), {"connection_string": typed, "region": "eu-west-1"}, headers=HTMX
    )
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert page.lstrip().startswith('<form method="post"') and "<html" not in page
    assert 'class="errorlist nonfield"' in page
    assert "keep-me-secret" not in page and 'hx-preserve="true"' in page
    assert 'hx-disabled-elt="#pulse-check-button, #pulse-enable-button, #pulse-demo-button"' in page
    missing = owner_client.post(
        url("enable", project), {"region": "eu-west-1"}, headers=HTMX
    ).content.decode()
    assert "Enter the connection string of your database." in missing


def test_the_region_defaults_to_the_gateways_own(owner_client, project, open_access, settings):
    page = owner_client.get(url("tab", project)).content.decode()
    assert re.search(rf'<option value="{settings.GATEWAY_REGION}"[^>]*selected', page)


@pytest.mark.django_db(transaction=True)
def test_the_examples_use_a_covered_table_and_one_placeholder_for_the_key(
    owner_client, project, open_access, source_url
):
    run_sql(source_url, "CREATE TABLE customers (id int PRIMARY KEY)")
    pulse_enable(project=project, connection_string=source_url, region="eu-west-1", tables=[], actor=ACTOR)
    page = owner_client.get(url("tab", project)).content.decode()
    assert "model=TABLE" in page  # all tables, and the worker has not listed them yet
    PulseConfig.objects.filter(project=project).update(captured_models=["customers", "audit.entries"])
    page = owner_client.get(url("tab", project)).content.decode()
    assert "?model=audit.entries" in page or "?model=customers" in page
    assert "orders" not in page
    assert "PRISMA_API_KEY=__API_KEY__" in page and 'Authorization: Bearer __API_KEY__"' in page
    assert 'os.environ["PRISMA_API_KEY"]' in page and "PULSE_API_KEY" not in page
    pulse_disable(project=project, actor=ACTOR)


@pytest.mark.django_db(transaction=True)
def test_generate_api_key_fills_every_snippet_once(owner_client, project, open_access, source_url):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    pulse_enable(
        project=project, connection_string=source_url, region="eu-west-1", tables=["orders"], actor=ACTOR
    )
    response = owner_client.post(url("api_key_generate", project), headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert page.lstrip().startswith('<section class="card" id="pulse-snippets"')
    found = re.search(r"PRISMA_API_KEY=(dpk_\w+)", page)
    assert found is not None
    key = found.group(1)
    api_key = ApiKey.objects.get(project=project)
    assert api_key.name == "Pulse key" and api_key_authenticate(key) == api_key
    assert f'Authorization: Bearer {key}"' in page and "__API_KEY__" not in page
    assert key not in owner_client.get(url("tab", project)).content.decode()
    pulse_disable(project=project, actor=ACTOR)


@pytest.mark.django_db(transaction=True)
def test_the_last_capture_never_lags_the_events_listed(owner_client, project, open_access, source_url):
    """The live tail brings the status's "Last change captured" along (out of band)."""
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    pulse_enable(
        project=project, connection_string=source_url, region="eu-west-1", tables=["orders"], actor=ACTOR
    )
    events = owner_client.get(url("events", project), headers=HTMX).content.decode()
    assert "No events captured yet" in events and "No changes captured yet" in events
    PulseEvent.objects.create(
        project=project,
        model_name="orders",
        action="create",
        payload={"created": {"id": 1}},
        lsn=1,
        position=0,
        seq=1,
        committed_at=timezone.now(),
    )
    events = owner_client.get(url("events", project), headers=HTMX).content.decode()
    assert 'data-event-id="' in events
    assert '<dd id="pulse-last-capture" hx-swap-oob="true"><time' in events
    assert "No changes captured yet" not in events
    status = owner_client.get(url("status", project), headers=HTMX).content.decode()
    assert "No changes captured yet" not in status
    pulse_disable(project=project, actor=ACTOR)
