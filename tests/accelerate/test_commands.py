from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accelerate.models import AccelerateConfig
from console.models import AuditEvent, ProductAccess

pytestmark = pytest.mark.django_db


def test_configureaccelerate_checks_and_stores_like_the_form(project, database_url, capsys):
    call_command(
        "configureaccelerate",
        str(project.pk),
        "--url",
        database_url(password="cli-secret-pw"),
        "--region",
        "us-east-1",
        "--connection-limit",
        "20",
    )
    out = capsys.readouterr().out
    assert f"Accelerate is enabled for {project.name} in us-east-1" in out and "connection limit 20" in out
    assert "cli-secret-pw" not in out
    assert AccelerateConfig.objects.get(project=project).connection_limit == 20
    assert (
        AuditEvent.objects.get(action="accelerate.configure").actor_label == "manage.py configureaccelerate"
    )


def test_configureaccelerate_on_a_configured_project_changes_its_configuration(project, database_url, capsys):
    call_command("configureaccelerate", str(project.pk), "--url", database_url(), "--region", "us-east-1")
    call_command("disableaccelerate", str(project.pk))
    call_command(
        "configureaccelerate",
        str(project.pk),
        "--url",
        database_url(),
        "--region",
        "eu-west-1",
        "--pool-timeout",
        "3",
    )
    assert "Accelerate is configured but disabled for" in capsys.readouterr().out
    config = AccelerateConfig.objects.get(project=project)
    assert (config.region, config.pool_timeout_seconds, config.enabled) == ("eu-west-1", 3, False)
    assert AuditEvent.objects.get(action="accelerate.update").details["changed"] == [
        "connection_string",
        "pool_timeout_seconds",
        "region",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "postgresql://app:pw@169.254.169.254/app", "--region", "us-east-1"], "link-local"),
        (["--url", "mysql://app:pw@db/app", "--region", "us-east-1"], "MySQL is not supported yet"),
        (
            [
                "--url",
                "postgresql://app:pw@db.example.com/app",
                "--region",
                "us-east-1",
                "--connection-limit",
                "5000",
            ],
            "from 1 to 1000",
        ),
    ],
)
def test_configureaccelerate_refuses_what_the_form_refuses(project, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("configureaccelerate", str(project.pk), *arguments)
    assert not AccelerateConfig.objects.exists()


def test_configureaccelerate_checks_the_database_then_the_region(project, database_url):
    with pytest.raises(CommandError, match="The database missing_db does not exist"):
        call_command(
            "configureaccelerate",
            str(project.pk),
            "--url",
            database_url(database="missing_db"),
            "--region",
            "moon-1",
        )
    with pytest.raises(CommandError, match="offered regions"):
        call_command("configureaccelerate", str(project.pk), "--url", database_url(), "--region", "moon-1")
    assert not AccelerateConfig.objects.exists()


def test_configureaccelerate_names_a_missing_project(db):
    with pytest.raises(CommandError, match="No project with the id"):
        call_command(
            "configureaccelerate", "not-a-uuid", "--url", "postgresql://a@b/c", "--region", "us-east-1"
        )


def test_disableaccelerate(project, database_url, capsys):
    with pytest.raises(CommandError, match="not configured"):
        call_command("disableaccelerate", str(project.pk))
    call_command("configureaccelerate", str(project.pk), "--url", database_url(), "--region", "us-east-1")
    call_command("disableaccelerate", str(project.pk))
    assert "is disabled" in capsys.readouterr().out
    assert not AccelerateConfig.objects.get().enabled
    call_command("disableaccelerate", str(project.pk))
    assert "already disabled" in capsys.readouterr().out


def test_grantaccess_opens_accelerate_to_an_organization(project, database_url, settings, capsys):
    settings.ACCELERATE_OPEN_ACCESS = False
    with pytest.raises(CommandError, match="does not have access"):
        call_command("configureaccelerate", str(project.pk), "--url", database_url(), "--region", "us-east-1")
    call_command("grantaccess", project.organization.slug, "accelerate")
    assert "now has access to Accelerate" in capsys.readouterr().out
    call_command("grantaccess", project.organization.slug, "accelerate")
    assert "already had access" in capsys.readouterr().out
    call_command("configureaccelerate", str(project.pk), "--url", database_url(), "--region", "us-east-1")
    assert ProductAccess.objects.get().granted_by == "manage.py grantaccess"
    assert AuditEvent.objects.filter(action="product_access.grant").count() == 1
    call_command("grantaccess", project.organization.slug, "accelerate", "--revoke")
    assert not ProductAccess.objects.exists()


def test_grantaccess_names_the_known_products(organization):
    with pytest.raises(CommandError, match="known products: .*accelerate"):
        call_command("grantaccess", organization.slug, "teleport")
    with pytest.raises(CommandError, match="No organization"):
        call_command("grantaccess", "nope", "accelerate")
