"""Writes of Accelerate's configuration: create, update (edit), disable, enable."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accelerate.models import (
    CONNECTION_LIMIT,
    POOL_TIMEOUT_SECONDS,
    QUERY_TIMEOUT_SECONDS,
    RESPONSE_SIZE_LIMIT_MB,
    AccelerateConfig,
)
from console.access import product_access_granted
from console.audit import Actor, audit_record
from projects.models import Project
from userdb import connection_strings
from userdb.encryption import decrypt, encrypt
from userdb.regions import region_name

PRODUCT = "accelerate"
LIMITS = {
    "connection_limit": (CONNECTION_LIMIT, "The connection limit"),
    "pool_timeout_seconds": (POOL_TIMEOUT_SECONDS, "The pool timeout"),
    "query_timeout_seconds": (QUERY_TIMEOUT_SECONDS, "The query timeout"),
    "response_size_limit_mb": (RESPONSE_SIZE_LIMIT_MB, "The response size limit"),
}


@sensitive_variables("connection_string")
def accelerate_create(
    *,
    project: Project,
    actor: Actor,
    connection_string: str,
    region: str,
    connection_limit: int = CONNECTION_LIMIT[2],
    pool_timeout_seconds: int = POOL_TIMEOUT_SECONDS[2],
    query_timeout_seconds: int = QUERY_TIMEOUT_SECONDS[2],
    response_size_limit_mb: int = RESPONSE_SIZE_LIMIT_MB[2],
) -> AccelerateConfig:
    """Configure Accelerate for the project once the database checks out; enabled from the start.

    Promises: nothing is stored unless every check passed — the organization has access,
    the limits are in bounds, the connection string parses, passes the address guard and
    answers ``SELECT 1`` within ``ACCELERATE_CHECK_TIMEOUT``, and then (a bad string is what
    to fix first) the region is offered; an empty region means the host did not say. Failures
    raise ValidationError keyed by field, with messages that never contain the password.
    The string is stored encrypted. Audited as ``accelerate.configure``, without the
    connection string. The database check runs before the transaction, so no lock waits
    on a user's server.
    """
    limits = _limits(connection_limit, pool_timeout_seconds, query_timeout_seconds, response_size_limit_mb)
    _settings_check(project=project, limits=limits)
    connection_string = connection_string.strip()
    if not connection_string:
        raise ValidationError({"connection_string": "Enter the connection string of your database."})
    database = _database_check(connection_string)
    _region_check(region)
    with transaction.atomic():
        if AccelerateConfig.objects.select_for_update().filter(project=project).exists():
            raise ValidationError(
                {NON_FIELD_ERRORS: "Accelerate was configured for this project by someone else meanwhile."}
            )
        config = AccelerateConfig(project=project, configured_by=actor.user)
        _settings_apply(config, region=region, limits=limits, database=database)
        audit_record(
            actor=actor,
            organization=project.organization,
            action="accelerate.configure",
            target=project,
            details={"database": config.database_display, "region": region, **limits},
        )
    return config


@sensitive_variables("connection_string")
def accelerate_update(
    *,
    config: AccelerateConfig,
    actor: Actor,
    connection_string: str | None,
    region: str,
    connection_limit: int = CONNECTION_LIMIT[2],
    pool_timeout_seconds: int = POOL_TIMEOUT_SECONDS[2],
    query_timeout_seconds: int = QUERY_TIMEOUT_SECONDS[2],
    response_size_limit_mb: int = RESPONSE_SIZE_LIMIT_MB[2],
) -> AccelerateConfig:
    """Edit the project's configuration: region and limits, and the database when
    ``connection_string`` is not empty (empty keeps the stored one).

    The same checks and promises as ``accelerate_create``; ``enabled`` stays as it was.
    Audited as ``accelerate.update``, with the names of the settings that changed.
    """
    project = config.project
    limits = _limits(connection_limit, pool_timeout_seconds, query_timeout_seconds, response_size_limit_mb)
    _settings_check(project=project, limits=limits)
    connection_string = (connection_string or "").strip()
    database = _database_check(connection_string) if connection_string else None
    _region_check(region)
    with transaction.atomic():
        locked = AccelerateConfig.objects.select_for_update().get(pk=config.pk)
        changed = [field for field, value in limits.items() if getattr(locked, field) != value]
        if locked.region != region:
            changed.append("region")
        if database is not None:
            changed.append("connection_string")
        _settings_apply(locked, region=region, limits=limits, database=database)
        audit_record(
            actor=actor,
            organization=project.organization,
            action="accelerate.update",
            target=project,
            details={
                "database": locked.database_display,
                "region": region,
                **limits,
                "changed": sorted(changed),
            },
        )
    return locked


def _limits(
    connection_limit: int, pool_timeout_seconds: int, query_timeout_seconds: int, response_size_limit_mb: int
) -> dict[str, int]:
    return {
        "connection_limit": connection_limit,
        "pool_timeout_seconds": pool_timeout_seconds,
        "query_timeout_seconds": query_timeout_seconds,
        "response_size_limit_mb": response_size_limit_mb,
    }


def _region_check(region: str) -> None:
    """The region is one of the offered ones (ValidationError on the field; empty: the host did not say)."""
    if not region:
        raise ValidationError(
            {"region": "The host name does not tell where the database is: choose the region closest to it."}
        )
    if region not in dict(settings.ACCELERATE_REGIONS):
        raise ValidationError({"region": f"Choose one of the offered regions ({region} is not one of them)."})


def _settings_check(*, project: Project, limits: dict[str, int]) -> None:
    """The organization has access and each limit is in bounds (ValidationError)."""
    if not product_access_granted(organization=project.organization, product=PRODUCT):
        raise ValidationError({NON_FIELD_ERRORS: "This organization does not have access to Accelerate yet."})
    errors: dict[str, str] = {}
    for field, ((low, high, _), label) in LIMITS.items():
        value = limits[field]
        if not low <= value <= high:
            errors[field] = f"{label} must be from {low} to {high}."
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class _Database:
    token: str  # the connection string, encrypted
    display: str  # the connection string with the password masked
    server_version: str


@sensitive_variables("connection_string", "parsed")
def _database_check(connection_string: str) -> _Database:
    """Parse the string, pass the address guard and run ``SELECT 1`` (ValidationError on the field)."""
    try:
        parsed = connection_strings.parse(connection_string)
        info = connection_strings.connection_check(parsed, timeout=settings.ACCELERATE_CHECK_TIMEOUT)
    except connection_strings.ConnectionStringError as error:
        raise ValidationError({"connection_string": error.message}) from None
    return _Database(encrypt(connection_string), parsed.redacted(), info.version)


def _settings_apply(
    config: AccelerateConfig, *, region: str, limits: dict[str, int], database: _Database | None
) -> None:
    """Store the settings on the configuration (the database only when a new one was checked)."""
    if database is not None:
        config.connection_string = database.token
        config.database_display = database.display
        config.server_version = database.server_version
    config.region = region
    for field, value in limits.items():
        setattr(config, field, value)
    config.updated = timezone.now()
    config.save()


@transaction.atomic
def accelerate_disable(*, config: AccelerateConfig, actor: Actor) -> AccelerateConfig:
    """Disable Accelerate for the project, keeping its settings; the gateway answers P6010 from now on."""
    return _set_enabled(config=config, enabled=False, actor=actor)


@transaction.atomic
def accelerate_enable(*, config: AccelerateConfig, actor: Actor) -> AccelerateConfig:
    """Enable Accelerate again with the settings it had when it was disabled."""
    return _set_enabled(config=config, enabled=True, actor=actor)


def _set_enabled(*, config: AccelerateConfig, enabled: bool, actor: Actor) -> AccelerateConfig:
    locked = (
        AccelerateConfig.objects.select_for_update().select_related("project__organization").get(pk=config.pk)
    )
    if locked.enabled == enabled:
        return locked
    locked.enabled = enabled
    locked.updated = timezone.now()
    locked.save(update_fields=["enabled", "updated"])
    audit_record(
        actor=actor,
        organization=locked.project.organization,
        action="accelerate.enable" if enabled else "accelerate.disable",
        target=locked.project,
        details={"region": locked.region, "region_name": region_name(locked.region)},
    )
    return locked


def accelerate_database_port_move(*, old_port: int, new_port: int, actor: Actor) -> list[AccelerateConfig]:
    """A database server on this machine moved from ``old_port`` to ``new_port`` (the embedded
    demo server, when another program took its port): every configuration whose connection
    string names this machine and ``old_port`` now names ``new_port``, the rest of it unchanged.

    Each change is stored encrypted and audited as ``accelerate.update``; the others are left
    alone. Returns the configurations that changed.
    """
    moved: list[AccelerateConfig] = []
    for config_id in AccelerateConfig.objects.values_list("pk", flat=True):
        with transaction.atomic():
            config = (
                AccelerateConfig.objects.select_for_update()
                .select_related("project__organization")
                .get(pk=config_id)
            )
            current = decrypt(config.connection_string)
            if not connection_strings.points_at_this_machine(current, old_port):
                continue
            moved_to = connection_strings.parse(current).with_port(new_port)
            config.connection_string = encrypt(moved_to)
            config.database_display = connection_strings.parse(moved_to).redacted()
            config.updated = timezone.now()
            config.save(update_fields=["connection_string", "database_display", "updated"])
            audit_record(
                actor=actor,
                organization=config.project.organization,
                action="accelerate.update",
                target=config.project,
                details={
                    "database": config.database_display,
                    "changed": ["connection_string"],
                    "reason": f"the database server moved from port {old_port} to {new_port}",
                },
            )
            moved.append(config)
    return moved
