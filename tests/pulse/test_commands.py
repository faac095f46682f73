from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from console.models import AuditEvent
from pulse.models import PulseConfig
from pulse.services import pulse_slot_name
from tests.pulse.conftest import run_sql, slot_names


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_pulsecheck_prints_the_checklist_and_fails_on_wal_level_replica(machine_database):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="not ready for Pulse"):
        call_command("pulsecheck", machine_database.url, stdout=out, stderr=err)
    printed = out.getvalue()
    assert "[fail] Logical replication enabled (wal_level = logical): wal_level is replica" in printed
    assert "    ALTER SYSTEM SET wal_level = logical;" in printed
    assert f"    ALTER ROLE {machine_database.role} WITH REPLICATION;" in printed
    assert machine_database.url not in printed  # printed redacted


@pytest.mark.django_db
def test_pulsecheck_passes_on_a_logical_database(source_url):
    printed = run("pulsecheck", source_url)
    assert "[pass] Logical replication enabled" in printed and printed.endswith("Ready for Pulse.\n")


@pytest.mark.django_db(transaction=True)
def test_enablepulse_and_disablepulse_go_through_the_services(project, source_url, source_database):
    run_sql(source_url, "CREATE TABLE orders (id int PRIMARY KEY)")
    printed = run(
        "enablepulse", str(project.pk), "--url", source_url, "--region", "us-east-1", "--tables", "orders"
    )
    name = pulse_slot_name(project)
    assert f"slot {name}, publication {name} (public.orders), region us-east-1" in printed
    assert slot_names(source_database) == [name]
    with pytest.raises(CommandError, match="already enabled"):
        run("enablepulse", str(project.pk), "--url", source_url, "--region", "us-east-1")

    printed = run("disablepulse", str(project.pk))
    assert "were dropped from your database" in printed
    assert slot_names(source_database) == []
    assert not PulseConfig.objects.get(project=project).enabled
    assert list(
        AuditEvent.objects.filter(action__startswith="pulse.").values_list("action", "actor_label")
    ) == [
        ("pulse.disable", "manage.py disablepulse"),
        ("pulse.enable", "manage.py enablepulse"),
    ]


@pytest.mark.django_db
def test_enablepulse_refuses_a_database_that_is_not_ready_and_prints_the_fixes(project, machine_database):
    err = io.StringIO()
    with pytest.raises(CommandError, match="not ready"):
        call_command(
            "enablepulse",
            str(project.pk),
            "--url",
            machine_database.superuser_url,
            "--region",
            "us-east-1",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert "ALTER SYSTEM SET wal_level = logical;" in err.getvalue()


@pytest.mark.django_db
def test_disablepulse_on_a_project_without_pulse_says_so(project):
    with pytest.raises(CommandError, match="Pulse is not enabled for this project."):
        run("disablepulse", str(project.pk))
