"""The Dashboard and the Overview say how a configured product is doing, not only that it is on:
"Unreachable" when its database does not answer, "Failing" when the capture worker reports an
error, "Lagging" when changes wait to be captured. Page loads read only what was kept; the badge
asks for a live check (short timeout, kept for a while) once the page is there."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from accelerate.models import AccelerateConfig
from accelerate.services import accelerate_create, accelerate_disable
from console.audit import Actor
from pulse.models import PulseConfig
from pulse.services import pulse_disable, pulse_enable
from tests.pulse.conftest import run_sql, url_from_conninfo
from userdb.encryption import encrypt

pytestmark = pytest.mark.django_db

ACTOR = Actor.command("test")


def moved(url: str) -> str:
    """The same database as if its server had moved to a port where nothing answers."""
    return re.sub(r"@[^/]+/", "@127.0.0.1:1/", url, count=1)


def dashboard(client, project) -> str:
    return client.get(
        reverse("projects:dashboard", args=[project.organization.slug, project.pk])
    ).content.decode()


def overview(client, project) -> str:
    return client.get(reverse("organization_overview", args=[project.organization.slug])).content.decode()


def health(client, project, product, **query) -> str:
    url = reverse("projects:health", args=[project.organization.slug, project.pk, product])
    return client.get(url, query, headers={"HX-Request": "true"}).content.decode()


@pytest.fixture
def accelerate_on(project, database_url, settings):
    settings.ACCELERATE_OPEN_ACCESS = True
    return accelerate_create(
        project=project, actor=ACTOR, connection_string=database_url(), region="eu-west-1"
    )


def test_a_page_load_checks_nothing_and_the_badge_asks_for_a_live_check(owner_client, project, accelerate_on):
    page = dashboard(owner_client, project)
    badge_url = reverse("projects:health", args=[project.organization.slug, project.pk, "accelerate"])
    assert f'hx-get="{badge_url}" hx-trigger="load"' in page
    assert 'aria-busy="true"' in page
    fragment = health(owner_client, project, "accelerate")
    assert fragment.lstrip().startswith('<span class="health" id="health-accelerate-')
    assert ">Enabled</span>" in fragment and "hx-get" not in fragment
    # The answer is kept: the next page shows it at once, without asking again.
    page = dashboard(owner_client, project)
    assert f'hx-get="{badge_url}"' not in page and ">Enabled</span>" in page


def test_a_database_that_stopped_answering_shows_unreachable(
    owner_client, project, accelerate_on, database_url
):
    # What a restart of the embedded server on another port did: the stored string points nowhere.
    AccelerateConfig.objects.filter(pk=accelerate_on.pk).update(
        connection_string=encrypt(moved(database_url()))
    )
    fragment = health(owner_client, project, "accelerate")
    assert ">Unreachable</span>" in fragment and 'class="badge fail"' in fragment
    assert "127.0.0.1:1" in fragment  # says why, on the Dashboard
    assert ">Unreachable</span>" in dashboard(owner_client, project)
    named = health(owner_client, project, "accelerate", named="1")
    assert ">Accelerate: Unreachable</span>" in named
    assert "Accelerate: Unreachable" in overview(owner_client, project)


def test_a_disabled_accelerate_says_disabled_without_a_check(owner_client, project, accelerate_on):
    accelerate_disable(config=accelerate_on, actor=ACTOR)
    page = dashboard(owner_client, project)
    assert (
        ">Disabled</span>" in page and "hx-get" not in page.split("Configure Accelerate")[1].split("</li>")[0]
    )
    assert "Accelerate: Disabled" in overview(owner_client, project)


def test_an_unknown_product_is_not_found(owner_client, project):
    assert (
        owner_client.get(
            reverse("projects:health", args=[project.organization.slug, project.pk, "nope"])
        ).status_code
        == 404
    )


@pytest.mark.django_db(transaction=True)
def test_pulse_says_failing_from_the_workers_report_then_unreachable_or_lagging_from_a_live_look(
    owner_client, project, source_database, settings
):
    settings.PULSE_OPEN_ACCESS = True
    source_url = url_from_conninfo(source_database)
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
    config = pulse_enable(
        project=project, connection_string=source_url, region="eu-west-1", tables=["orders"], actor=ACTOR
    )
    try:
        assert ">Enabled</span>" in health(owner_client, project, "pulse")

        # No worker reads the slot: WAL piles up behind it.
        run_sql(source_url, "INSERT INTO orders SELECT n, repeat('x', 200) FROM generate_series(1, 20000) n")
        cache.clear()
        fragment = health(owner_client, project, "pulse")
        assert ">Lagging</span>" in fragment and 'class="badge warn"' in fragment
        assert "bytes of WAL not yet captured" in fragment

        # The worker reported an error: said at once, without a live check.
        cache.clear()
        PulseConfig.objects.filter(pk=config.pk).update(
            last_error="Could not connect to the database at 127.0.0.1:1.", last_error_at=timezone.now()
        )
        page = dashboard(owner_client, project)
        assert ">Failing</span>" in page and "Could not connect to the database at 127.0.0.1:1." in page

        # The database moved away: the live look cannot reach it.
        PulseConfig.objects.filter(pk=config.pk).update(connection_string=encrypt(moved(source_url)))
        cache.clear()
        assert ">Unreachable</span>" in health(owner_client, project, "pulse")
    finally:
        PulseConfig.objects.filter(pk=config.pk).update(connection_string=encrypt(source_url))
        pulse_disable(project=project, actor=ACTOR)


def test_a_product_that_is_not_set_up_answers_without_asking_again(owner_client, project):
    """A badge whose product went away meanwhile must not ask for a check again and again."""
    fragment = health(owner_client, project, "accelerate")
    assert ">Not set up</span>" in fragment and "hx-get" not in fragment
