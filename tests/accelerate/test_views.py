from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest
from django.conf import settings as dj_settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accelerate.models import AccelerateConfig
from console.models import AuditEvent, ProductAccessRequest, Role
from projects.models import ApiKey
from projects.services import api_key_authenticate
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name, project, **kwargs):
    return reverse(f"accelerate:{name}", args=[project.organization.slug, project.pk])


def form_data(connection_string, region="eu-west-1", **extra):
    return {
        "connection_string": connection_string,
        "region": region,
        "connection_limit": 10,
        "pool_timeout_seconds": 10,
        "query_timeout_seconds": 10,
        "response_size_limit_mb": 5,
        **extra,
    }


@pytest.fixture
def no_open_access(settings):
    settings.ACCELERATE_OPEN_ACCESS = False


def test_without_access_the_tab_explains_and_offers_request_access(owner_client, project, no_open_access):
    page = owner_client.get(url("tab", project)).content.decode()
    assert "in Preview" in page and "Request access" in page
    assert "Configure Accelerate" not in page
    response = owner_client.post(url("request_access", project), follow=True)
    page = response.content.decode()
    assert "Access was requested on" in page and "Request access</button>" not in page
    assert ProductAccessRequest.objects.get(organization=project.organization).product == "accelerate"


def test_admins_see_access_requests_and_can_grant_them(owner_client, owner, project, no_open_access):
    owner_client.post(url("request_access", project))
    staff = UserFactory(is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    changelist = admin.get(reverse("admin:console_productaccessrequest_changelist")).content.decode()
    assert project.organization.name in changelist
    request_id = ProductAccessRequest.objects.get().pk
    admin.post(
        reverse("admin:console_productaccessrequest_changelist"),
        {"action": "grant_access", "_selected_action": [request_id]},
    )
    assert "Configure Accelerate" in owner_client.get(url("tab", project)).content.decode()


def test_configure_then_see_the_instructions(owner_client, project, database_url):
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Configure Accelerate" in page and "Advanced settings" in page
    response = owner_client.post(url("configure", project), form_data(database_url(password="pw-123456")))
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert "prisma://testserver/?api_key=__API_KEY__" in page
    assert "http://testserver/accelerate/v1/query" not in page  # testserver is not a loopback name
    assert "https://testserver/accelerate/v1/query" in page
    assert "Disable Accelerate" in page and "Europe (Ireland)" in page
    config = AccelerateConfig.objects.get(project=project)
    assert config.database_display in page
    assert "pw-123456" not in page
    # Step 3 sends a project without keys to the keys tab to create one.
    keys_url = reverse("projects:api_keys", args=[project.organization.slug, project.pk])
    assert "This project has no API key yet." in page and f'href="{keys_url}"' in page


def test_the_public_host_setting_names_the_gateway(owner_client, project, database_url, settings):
    settings.ACCELERATE_PUBLIC_HOST = "accelerate.example.com"
    owner_client.post(url("configure", project), form_data(database_url()))
    page = owner_client.get(url("tab", project)).content.decode()
    assert "prisma://accelerate.example.com/?api_key=__API_KEY__" in page
    assert "https://accelerate.example.com/accelerate/v1/query" in page


def test_a_failed_check_keeps_the_other_input_and_stores_nothing(owner_client, project, database_url):
    response = owner_client.post(
        url("configure", project),
        form_data(
            database_url(database="missing_db", password="keep-me-secret"),
            region="us-west-2",
            connection_limit=77,
        ),
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "The database missing_db does not exist" in page
    assert re.search(r'<option value="us-west-2"[^>]*selected', page)
    assert 'value="77"' in page
    assert "keep-me-secret" not in page
    assert not AccelerateConfig.objects.exists()


@pytest.mark.parametrize(
    ("connection_string", "message"),
    [
        ("mysql://app:pw@db.example.com/app", "MySQL is not supported yet"),
        ("postgresql://app:pw@169.254.169.254/app", "link-local or cloud metadata"),
        ("postgresql://app:pw@db.example.com", "must name a database"),
        ("\x7f<junk>" * 1500, "at most 2048 characters"),
    ],
)
def test_bad_input_gets_a_clear_message_without_a_stack_trace(
    owner_client, project, connection_string, message
):
    response = owner_client.post(url("configure", project), form_data(connection_string))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert not AccelerateConfig.objects.exists()


def test_a_database_on_this_machine_gets_the_gateway_region_by_default(
    owner_client, project, database_url, settings
):
    """The default choice ("closest to my database") works for a loopback host: the gateway's own region."""
    response = owner_client.post(url("configure", project), form_data(database_url(), region=""))
    assert response.status_code == 302
    assert AccelerateConfig.objects.get().region == settings.GATEWAY_REGION


def test_the_connection_string_is_checked_before_the_region(owner_client, project, database_url, settings):
    # Only regions the host cannot be matched to: the region would be the form's next question.
    settings.ACCELERATE_REGIONS = [("eu-west-1", "Europe (Ireland)"), ("us-east-1", "US East (N. Virginia)")]
    bad = database_url(database="missing_db")
    page = owner_client.post(url("configure", project), form_data(bad, region="")).content.decode()
    assert "The database missing_db does not exist" in page
    assert "does not tell where the database is" not in page
    # A database that checks out: now the region is asked for, by itself, without JavaScript.
    page = owner_client.post(url("configure", project), form_data(database_url(), region="")).content.decode()
    assert "does not tell where the database is: choose the region closest to it" in page
    assert not AccelerateConfig.objects.exists()


def test_typing_a_host_that_reveals_its_region_preselects_it(owner_client, project):
    response = owner_client.post(
        url("region", project),
        {
            "connection_string": "postgresql://app:hunter2-secret@ep-red-1.ap-southeast-1.aws.neon.tech/app",
            "region": "",
        },
        headers={"HX-Request": "true"},
    )
    page = response.content.decode()
    assert page.lstrip().startswith('<div class="field" id="region-field">')
    assert re.search(r'<option value="ap-southeast-1"[^>]*selected', page)
    assert "this Neon database is in Asia Pacific (Singapore)" in page
    assert "hunter2-secret" not in page


def test_edit_keeps_the_database_when_the_string_is_left_empty(owner_client, project, database_url):
    owner_client.post(url("configure", project), form_data(database_url(password="first-password")))
    page = owner_client.get(url("edit", project)).content.decode()
    assert "first-password" not in page and "Current database" in page
    response = owner_client.post(url("edit", project), form_data("", region="us-east-2", connection_limit=99))
    assert response.status_code == 302
    config = AccelerateConfig.objects.get()
    assert (config.region, config.connection_limit) == ("us-east-2", 99)


def test_disable_asks_first_then_reenabling_keeps_the_settings(owner_client, project, database_url):
    owner_client.post(url("configure", project), form_data(database_url(), connection_limit=33))
    dialog = owner_client.get(url("disable", project), headers={"HX-Request": "true"}).content.decode()
    assert dialog.lstrip().startswith("<dialog") and "P6010" in dialog
    page = owner_client.get(url("disable", project)).content.decode()
    assert "<dialog" not in page and "Disable Accelerate" in page  # the no-JavaScript page
    page = owner_client.post(url("disable", project), follow=True).content.decode()
    assert "Enable Accelerate" in page and "Disabled" in page
    assert not AccelerateConfig.objects.get().enabled
    page = owner_client.post(url("enable", project), follow=True).content.decode()
    assert "Disable Accelerate" in page
    config = AccelerateConfig.objects.get()
    assert config.enabled and config.connection_limit == 33


def test_viewers_see_the_configuration_but_cannot_change_it(
    project, database_url, member_factory, owner_client
):
    owner_client.post(url("configure", project), form_data(database_url()))
    viewer = Client()
    viewer.force_login(member_factory(project.organization, Role.VIEWER).user)
    page = viewer.get(url("tab", project)).content.decode()
    assert "prisma://" in page and "Disable Accelerate" not in page and ">Edit<" not in page
    assert viewer.post(url("disable", project)).status_code == 403
    assert viewer.post(url("edit", project), form_data("")).status_code == 403
    assert AccelerateConfig.objects.get().enabled


def test_viewers_of_an_unconfigured_project_get_no_form(project, member_factory):
    viewer = Client()
    viewer.force_login(member_factory(project.organization, Role.VIEWER).user)
    page = viewer.get(url("tab", project)).content.decode()
    assert "<form" not in page.split('aria-label="Project"')[-1] and "can configure it" in page
    assert viewer.post(url("configure", project), form_data("postgresql://a@b/c")).status_code == 403


def test_other_organizations_get_not_found(outsider_client, project):
    for name in ("tab", "edit", "disable"):
        assert outsider_client.get(url(name, project)).status_code == 404
    assert outsider_client.post(url("configure", project), form_data("postgresql://a@b/c")).status_code == 404


passwords = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=10, max_size=30
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords)
def test_the_password_never_appears_in_a_page_log_record_or_audit_event(
    owner_client, project, database_url, caplog, password
):
    assume(password.strip() == password)
    # Hypothesis also draws words from the code (region names, labels): a "password" that the
    # page shows anyway proves nothing either way.
    assume(password not in owner_client.get(url("tab", project)).content.decode())
    AccelerateConfig.objects.all().delete()
    cache.clear()  # each example is a fresh user session as far as the database-check limit goes
    encoded = quote(password, safe="")
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        pages = [
            owner_client.post(
                url("configure", project), form_data(database_url(password=password, database="gone"))
            ),
            owner_client.post(
                url("configure", project), form_data(database_url(password=password)), follow=True
            ),
            owner_client.get(url("tab", project)),
            owner_client.get(url("edit", project)),
            owner_client.post(
                url("edit", project), form_data(database_url(password=password, database="gone"))
            ),
            owner_client.post(
                url("region", project),
                {"connection_string": database_url(password=password)},
                headers={"HX-Request": "true"},
            ),
        ]
    assert AccelerateConfig.objects.get().enabled
    texts = [response.content.decode() for response in pages]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(event.details) + event.target_label for event in AuditEvent.objects.all()]
    for text in texts:
        assert password not in text
        assert encoded not in text


def test_the_overview_shows_accelerate_enabled_for_the_project(owner_client, project, database_url):
    overview = reverse("organization_overview", args=[project.organization.slug])
    assert "Accelerate: Enabled</span>" not in owner_client.get(overview).content.decode()
    owner_client.post(url("configure", project), form_data(database_url()))
    assert '<span class="badge on">Accelerate: Enabled</span>' in owner_client.get(overview).content.decode()


# The demo database, the form's behaviour, and the snippets with a generated key -----------------

HTMX = {"HX-Request": "true"}


def test_the_form_offers_the_demo_database_in_the_embedded_mode_only(owner_client, project, settings):
    settings.EMBEDDED = True
    assert "Use the demo database" in owner_client.get(url("tab", project)).content.decode()
    settings.EMBEDDED = False
    assert "Use the demo database" not in owner_client.get(url("tab", project)).content.decode()
    response = owner_client.post(url("configure", project), form_data("", region="", use_demo_database="1"))
    assert "There is no demo database here" in response.content.decode()
    assert not AccelerateConfig.objects.exists()


def test_use_the_demo_database_configures_accelerate_on_it(owner_client, project, demo_sandbox):
    from console.demo import demo_database_url
    from userdb.encryption import decrypt

    response = owner_client.post(url("configure", project), form_data("", region="", use_demo_database="1"))
    assert response.status_code == 302
    config = AccelerateConfig.objects.get()
    assert decrypt(config.connection_string) == demo_database_url()
    assert config.region == dj_settings.GATEWAY_REGION  # the demo is on this machine
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Accelerate is configured." in page


def test_an_error_comes_back_on_the_form_for_htmx_without_the_connection_string(
    owner_client, project, database_url
):
    """htmx swaps the form back with its errors; the typed string stays in the browser's field
    (hx-preserve) and is never sent back; the buttons are disabled while the check runs."""
    typed = database_url(password="keep-me-secret", database="missing_db")
    response = owner_client.post(url("configure", project), form_data(typed), headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<form method="post"') and "<html" not in page
    assert "The database missing_db does not exist" in page
    assert "keep-me-secret" not in page and 'hx-preserve="true"' in page
    assert 'hx-disabled-elt="#accelerate-config-submit, #accelerate-config-demo"' in page
    assert 'id="accelerate-config-submit"' in page
    assert "no-store" in response["Cache-Control"]


def test_configuring_with_htmx_goes_to_the_tab(owner_client, project, database_url):
    response = owner_client.post(url("configure", project), form_data(database_url()), headers=HTMX)
    assert response.headers["HX-Redirect"] == url("tab", project)


def test_a_disabled_accelerate_shows_no_setup_steps(owner_client, project, database_url):
    owner_client.post(url("configure", project), form_data(database_url()))
    assert (
        "1. Copy the Accelerate connection string" in owner_client.get(url("tab", project)).content.decode()
    )
    owner_client.post(url("disable", project))
    page = owner_client.get(url("tab", project)).content.decode()
    assert "Disabled" in page and "Enable Accelerate" in page
    assert "Copy the Accelerate connection string" not in page and "__API_KEY__" not in page
    assert owner_client.post(url("api_key_generate", project)).status_code == 302
    assert not ApiKey.objects.exists()


def test_every_example_uses_one_placeholder_for_the_key(owner_client, project, database_url):
    owner_client.post(url("configure", project), form_data(database_url()))
    page = owner_client.get(url("tab", project)).content.decode()
    assert "?api_key=__API_KEY__" in page
    assert 'Authorization: Bearer __API_KEY__"' in page
    assert "$API_KEY" not in page and "PULSE_API_KEY" not in page
    # The gateway's own region is what answers report: said next to the project's.
    assert f"in <code>{dj_settings.GATEWAY_REGION}</code>" in page and "info.region" in page


def test_generate_api_key_fills_every_snippet_once(owner_client, project, database_url):
    owner_client.post(url("configure", project), form_data(database_url()))
    response = owner_client.post(url("api_key_generate", project), headers=HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert page.lstrip().startswith('<div id="accelerate-snippets">')
    found = re.search(r"\?api_key=(dpk_\w+)", page)
    assert found is not None
    key = found.group(1)
    api_key = ApiKey.objects.get(project=project)
    assert api_key.name == "Accelerate key" and api_key_authenticate(key) == api_key
    assert f'Authorization: Bearer {key}"' in page and 'ACCELERATE_URL="prisma://' in page
    assert "__API_KEY__" not in page and "It is not shown again" in page
    # Once: the tab shows the placeholder again, and the next key gets a name of its own.
    assert key not in owner_client.get(url("tab", project)).content.decode()
    owner_client.post(url("api_key_generate", project))
    assert sorted(ApiKey.objects.values_list("name", flat=True)) == ["Accelerate key", "Accelerate key 2"]


def test_generate_api_key_needs_the_right_to_manage_keys(client, project, database_url, owner_client):
    owner_client.post(url("configure", project), form_data(database_url()))
    viewer = MembershipFactory(organization=project.organization, role=Role.VIEWER).user
    client.force_login(viewer)
    assert "Generate API key" not in client.get(url("tab", project)).content.decode()
    assert client.post(url("api_key_generate", project)).status_code == 403
    assert client.get(url("api_key_generate", project)).status_code == 405
    assert not ApiKey.objects.exists()
