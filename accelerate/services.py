"""Writes of Accelerate's configuration: configure (and edit), disable, enable."""

from __future__ import annotations

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
from userdb.encryption import encrypt
from userdb.regions import region_name

PRODUCT = "accelerate"
LIMITS = {
    "connection_limit": (CONNECTION_LIMIT, "The connection limit"),
    "pool_timeout_seconds": (POOL_TIMEOUT_SECONDS, "The pool timeout"),
    "query_timeout_seconds": (QUERY_TIMEOUT_SECONDS, "The query timeout"),
    "response_size_limit_mb": (RESPONSE_SIZE_LIMIT_MB, "The response size limit"),
}


def _clean_region(region: str) -> None:
    if not region:
        raise ValidationError(
            {"region": "The host name does not tell where the database is: choose the region closest to it."}
        )
    if region not in dict(settings.ACCELERATE_REGIONS):
        raise ValidationError({"region": f"Choose one of the offered regions ({region} is not one of them)."})


def _clean_limits(limits: dict[str, int]) -> None:
    errors: dict[str, str] = {}
    for field, ((low, high, _), label) in LIMITS.items():
        value = limits[field]
        if not low <= value <= high:
            errors[field] = f"{label} must be from {low} to {high}."
    if errors:
        raise ValidationError(errors)


@sensitive_variables("connection_string", "parsed")
def accelerate_configure(
    *,
    project: Project,
    actor: Actor,
    connection_string: str | None,
    region: str,
    connection_limit: int = CONNECTION_LIMIT[2],
    pool_timeout_seconds: int = POOL_TIMEOUT_SECONDS[2],
    query_timeout_seconds: int = QUERY_TIMEOUT_SECONDS[2],
    response_size_limit_mb: int = RESPONSE_SIZE_LIMIT_MB[2],
) -> AccelerateConfig:
    """Configure Accelerate for the project, or edit its configuration, once the database checks out.

    Promises: nothing is stored unless every check passed — the organization has access, a
    new connection string parses, passes the address guard and answers ``SELECT 1`` within
    ``ACCELERATE_CHECK_TIMEOUT`` (before the region: a bad string is what to fix first), and the
    region and limits are in bounds (an empty region: the host did not say). Failures
    raise ValidationError keyed by field, with messages that never contain the password.
    ``connection_string`` empty keeps the stored one (it is required the first time).
    The string is stored encrypted; editing keeps ``enabled`` as it was. Audited as
    ``accelerate.configure`` or ``accelerate.update``, without the connection string.
    The database check runs before the transaction, so no lock waits on a user's server.
    """
    if not product_access_granted(organization=project.organization, product=PRODUCT):
        raise ValidationError({NON_FIELD_ERRORS: "This organization does not have access to Accelerate yet."})
    limits = {
        "connection_limit": connection_limit,
        "pool_timeout_seconds": pool_timeout_seconds,
        "query_timeout_seconds": query_timeout_seconds,
        "response_size_limit_mb": response_size_limit_mb,
    }
    _clean_limits(limits)
    existing = AccelerateConfig.objects.filter(project=project).first()
    connection_string = (connection_string or "").strip()
    checked: tuple[str, str, str] | None = None  # (token, redacted, server version)
    if connection_string:
        try:
            parsed = connection_strings.parse(connection_string)
            info = connection_strings.connection_check(parsed, timeout=settings.ACCELERATE_CHECK_TIMEOUT)
        except connection_strings.ConnectionStringError as error:
            raise ValidationError({"connection_string": error.message}) from None
        checked = (encrypt(connection_string), parsed.redacted(), info.version)
    elif existing is None:
        raise ValidationError({"connection_string": "Enter the connection string of your database."})
    _clean_region(region)

    with transaction.atomic():
        config = AccelerateConfig.objects.select_for_update().filter(project=project).first()
        creating = config is None
        if config is None:
            config = AccelerateConfig(project=project, configured_by=actor.user)
        changed = [field for field, value in limits.items() if getattr(config, field) != value]
        if config.region != region:
            changed.append("region")
        if checked is not None:
            config.connection_string, config.database_display, config.server_version = checked
            changed.append("connection_string")
        config.region = region
        for field, value in limits.items():
            setattr(config, field, value)
        config.updated = timezone.now()
        config.save()
        audit_record(
            actor=actor,
            organization=project.organization,
            action="accelerate.configure" if creating else "accelerate.update",
            target=project,
            details={
                "database": config.database_display,
                "region": region,
                **limits,
                **({} if creating else {"changed": sorted(changed)}),
            },
        )
    return config


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
