from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from accelerate import selectors, services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from console.models import AuditEvent
from userdb.encryption import DecryptionError

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-Accelerate-pw"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _known_key(settings):
    settings.SECRET_ENCRYPTION_KEYS = [KEY_A]
    settings.ACCELERATE_OPEN_ACCESS = True


def configure(project, url, **extra):
    return services.accelerate_create(
        project=project,
        actor=Actor.command("test"),
        connection_string=url,
        region=extra.pop("region", "eu-west-1"),
        **extra,
    )


def edit(config, url, **extra):
    return services.accelerate_update(
        config=config,
        actor=Actor.command("test"),
        connection_string=url,
        region=extra.pop("region", "eu-west-1"),
        **extra,
    )


def gateway_config(project):
    found = selectors.accelerate_gateway_config(project_id=project.pk)
    assert found is not None
    return found


def stored_column(config) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT connection_string FROM accelerate_accelerateconfig WHERE id = %s", [config.pk])
        return cursor.fetchone()[0]


def test_the_stored_connection_string_is_not_the_plaintext(project, database_url):
    url = database_url(password=PASSWORD)
    config = configure(project, url)
    raw = stored_column(config)
    assert raw != url
    assert PASSWORD not in raw and "postgresql" not in raw
    assert config.database_display.startswith("postgresql://") and "••••" in config.database_display
    assert PASSWORD not in config.database_display
    assert config.server_version
    gateway = gateway_config(project)
    assert gateway.database.password == PASSWORD
    assert (gateway.enabled, gateway.region, gateway.connection_limit, gateway.response_size_limit_bytes) == (
        True,
        "eu-west-1",
        10,
        5_000_000,
    )


def test_a_wrong_encryption_key_is_an_error_not_a_silent_empty_value(project, database_url, settings):
    configure(project, database_url(password=PASSWORD))
    settings.SECRET_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(DecryptionError):
        selectors.accelerate_gateway_config(project_id=project.pk)


def test_rotation_reencrypts_under_the_newest_key_and_the_old_key_can_go(
    project, database_url, settings, capsys
):
    config = configure(project, database_url(password=PASSWORD))
    before = stored_column(config)
    settings.SECRET_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("reencryptsecrets")
    out = capsys.readouterr().out
    assert "Re-encrypted 1 secret under the newest key (1 had been under an older key)" in out
    assert "accelerate.AccelerateConfig.connection_string" in out
    after = stored_column(config)
    assert after != before
    settings.SECRET_ENCRYPTION_KEYS = [KEY_B]
    assert gateway_config(project).database.password == PASSWORD


def test_rotation_with_a_missing_key_changes_nothing_and_says_which_row(project, database_url, settings):
    config = configure(project, database_url(password=PASSWORD))
    before = stored_column(config)
    settings.SECRET_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(Exception, match="could not be decrypted"):
        call_command("reencryptsecrets")
    assert stored_column(config) == before


def test_configuring_is_audited_without_the_connection_string(project, database_url):
    configure(project, database_url(password=PASSWORD), connection_limit=25)
    event = AuditEvent.objects.get(action="accelerate.configure")
    assert event.target_id == str(project.pk)
    assert event.details["region"] == "eu-west-1" and event.details["connection_limit"] == 25
    assert PASSWORD not in str(event.details) and PASSWORD not in event.target_label


def test_nothing_is_stored_when_the_database_check_fails(project, database_url):
    with pytest.raises(ValidationError) as raised:
        configure(project, database_url(database="no_such_database"))
    assert "does not exist" in raised.value.message_dict["connection_string"][0]
    assert not AccelerateConfig.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="accelerate").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://app:pw@169.254.169.254:5432/app", "link-local or cloud metadata"),
        ("postgresql://app:pw@[fe80::1]:5432/app", "link-local or cloud metadata"),
        ("mysql://app:pw@db.example.com/app", "MySQL is not supported yet"),
        ("postgresql://app:pw@db.example.com", "must name a database"),
        ("not a url at all " * 600, "too long"),
    ],
)
def test_refused_connection_strings_store_nothing(project, url, message):
    with pytest.raises(ValidationError) as raised:
        configure(project, url)
    assert message in raised.value.message_dict["connection_string"][0]
    assert not AccelerateConfig.objects.exists()


def test_private_hosts_are_refused_when_the_setting_is_off(project, database_url, settings):
    settings.ALLOW_PRIVATE_DATABASE_HOSTS = False
    with pytest.raises(ValidationError, match="private, loopback"):
        configure(project, database_url())
    assert not AccelerateConfig.objects.exists()


def test_region_and_limits_are_checked(project, database_url):
    # The limits first, all at once (no database needed for them)…
    with pytest.raises(ValidationError) as raised:
        configure(
            project, database_url(), region="mars-north-1", connection_limit=0, query_timeout_seconds=61
        )
    errors = raised.value.message_dict
    assert set(errors) == {"connection_limit", "query_timeout_seconds"}
    assert "from 1 to 1000" in errors["connection_limit"][0]
    # …the region once the connection string has checked out (it is what to fix first).
    with pytest.raises(ValidationError) as raised:
        configure(project, database_url(database="missing_db"), region="mars-north-1")
    assert set(raised.value.message_dict) == {"connection_string"}
    with pytest.raises(ValidationError) as raised:
        configure(project, database_url(), region="mars-north-1")
    assert set(raised.value.message_dict) == {"region"}
    assert not AccelerateConfig.objects.exists()


def test_without_preview_access_nothing_can_be_configured(project, database_url, settings):
    settings.ACCELERATE_OPEN_ACCESS = False
    with pytest.raises(ValidationError, match="does not have access to Accelerate"):
        configure(project, database_url())


def test_editing_without_a_new_string_keeps_the_database(project, database_url):
    config = configure(project, database_url(password=PASSWORD))
    token = stored_column(config)
    edited = edit(config, "", region="us-east-1", connection_limit=50)
    assert stored_column(edited) == token
    assert (edited.region, edited.connection_limit, edited.pk) == ("us-east-1", 50, config.pk)
    event = AuditEvent.objects.get(action="accelerate.update")
    assert event.details["changed"] == ["connection_limit", "region"]


def test_editing_with_a_new_string_checks_it_first_and_keeps_the_enabled_state(project, database_url):
    config = configure(project, database_url(password=PASSWORD))
    services.accelerate_disable(config=config, actor=Actor.command("test"))
    with pytest.raises(ValidationError) as raised:
        edit(config, database_url(database="no_such_database"), connection_limit=50)
    assert "does not exist" in raised.value.message_dict["connection_string"][0]
    assert AccelerateConfig.objects.get().connection_limit == 10  # nothing stored
    edited = edit(config, database_url(password="An0ther-pw"))
    assert gateway_config(project).database.password == "An0ther-pw"
    assert not edited.enabled
    assert AuditEvent.objects.get(action="accelerate.update").details["changed"] == ["connection_string"]


def test_creating_twice_is_refused_and_changes_nothing(project, database_url):
    configure(project, database_url(password=PASSWORD), connection_limit=42)
    with pytest.raises(ValidationError, match="configured for this project by someone else meanwhile"):
        configure(project, database_url(), connection_limit=7)
    assert AccelerateConfig.objects.get().connection_limit == 42
    assert gateway_config(project).database.password == PASSWORD


def test_the_first_configuration_needs_a_connection_string(project):
    with pytest.raises(ValidationError, match="Enter the connection string"):
        configure(project, "")


def test_disable_and_enable_keep_the_settings(project, database_url):
    config = configure(project, database_url(password=PASSWORD), connection_limit=42)
    disabled = services.accelerate_disable(config=config, actor=Actor.command("test"))
    assert not disabled.enabled
    assert gateway_config(project).enabled is False
    enabled = services.accelerate_enable(config=disabled, actor=Actor.command("test"))
    assert enabled.enabled and enabled.connection_limit == 42 and enabled.region == "eu-west-1"
    assert list(
        AuditEvent.objects.filter(action__startswith="accelerate").values_list("action", flat=True)
    ) == [
        "accelerate.enable",
        "accelerate.disable",
        "accelerate.configure",
    ]
