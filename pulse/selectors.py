"""Reads of Pulse: configurations, early access, and the slot's live state in the user's database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

import psycopg
from django.db.models import Q

from console.access import product_access_granted, product_access_request_for
from console.models import Organization, ProductAccess, ProductAccessRequest
from console.products import Health, health_cached
from projects.models import Project
from pulse.database import lost, quote_identifier, quote_literal, user_database
from pulse.models import PulseConfig, PulseEvent, PulseLeftoverSlot
from userdb.connection_strings import ConnectionStringError, parse
from userdb.encryption import DecryptionError, decrypt


def pulse_config_for_project(*, project: Project) -> PulseConfig | None:
    """The project's Pulse configuration (enabled or not), or None if Pulse was never set up."""
    return PulseConfig.objects.filter(project=project).first()


def pulse_leftovers_for_project(*, project: Project) -> list[PulseLeftoverSlot]:
    """Replication slots of the project that the console could not confirm dropped."""
    return list(PulseLeftoverSlot.objects.filter(project=project))


def pulse_drop_sql(*, slot_name: str, publication_name: str) -> str:
    """The SQL that removes what Pulse created in the user's database."""
    return (
        f"SELECT pg_drop_replication_slot({quote_literal(slot_name)});\n"
        f"DROP PUBLICATION IF EXISTS {quote_identifier(publication_name)};"
    )


# --- Early access (the core's product access: wait list requests and grants) ----------------

PRODUCT = "pulse"


def pulse_access_granted(organization: Organization) -> bool:
    """Whether the organization may use Pulse: open access (PULSE_OPEN_ACCESS) or a grant."""
    return product_access_granted(organization=organization, product=PRODUCT)


def pulse_waitlist_request(*, organization: Organization) -> ProductAccessRequest | None:
    """The organization's place-holder on the Pulse wait list, if it joined."""
    return product_access_request_for(organization=organization, product=PRODUCT)


def pulse_waitlist_position(*, access_request: ProductAccessRequest) -> int:
    """The request's place among those still waiting for Pulse (1 is next)."""
    granted = ProductAccess.objects.filter(product=PRODUCT).values("organization")
    waiting = ProductAccessRequest.objects.filter(product=PRODUCT).exclude(organization__in=granted)
    earlier = Q(created__lt=access_request.created) | Q(
        created=access_request.created, pk__lt=access_request.pk
    )
    return waiting.filter(earlier).count() + 1


# --- The slot, live -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotStatus:
    """What the user's database says about the project's slot right now."""

    reachable: bool
    exists: bool = False
    active: bool = False
    lag_bytes: int | None = None  # WAL written since the last change the capture confirmed
    retained_bytes: int | None = None  # WAL the slot keeps on the server's disk
    error: str = ""


def pulse_slot_status(*, config: PulseConfig, timeout: float | None = None) -> SlotStatus:
    """The slot's replication lag and retained WAL, read live (within ``timeout`` seconds,
    PULSE_CHECK_TIMEOUT by default). Never raises for the database."""
    try:
        parsed = parse(decrypt(config.connection_string))
    except (DecryptionError, ConnectionStringError) as error:
        return SlotStatus(reachable=False, error=getattr(error, "message", str(error)))
    try:
        with user_database(parsed, timeout=timeout) as connection:
            row = connection.execute(
                "SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
                "FROM pg_replication_slots WHERE slot_name = %s",
                [config.slot_name],
            ).fetchone()
    except ConnectionStringError as error:
        return SlotStatus(reachable=False, error=error.message)
    except psycopg.Error as error:
        return SlotStatus(reachable=False, error=lost(error, parsed).message)
    if row is None:
        return SlotStatus(reachable=True, exists=False)
    active, lag, retained = row
    return SlotStatus(
        reachable=True,
        exists=True,
        active=bool(active),
        lag_bytes=int(str(lag)) if lag is not None else None,
        retained_bytes=int(str(retained)) if retained is not None else None,
    )


# A live health check gives the database this long; more WAL than this not yet captured is "Lagging".
HEALTH_CHECK_TIMEOUT = 2.0
LAG_WARNING_BYTES = 1_000_000


def pulse_health(project: Project, live: bool) -> Health | None:
    """Whether Pulse works for the project, from the capture worker's report and a live look at
    the slot (kept for a while): "Unreachable", "Slot missing", "Failing" (the worker's error),
    "Lagging" (more than LAG_WARNING_BYTES of WAL not yet captured) or "Enabled". None when
    Pulse is not enabled. Without ``live``, only the worker's report and a kept answer are read."""
    try:
        config = project.pulse_config  # through the relation: the Overview selects it along
    except PulseConfig.DoesNotExist:
        return None
    if not config.enabled:
        return None

    def check() -> Health:
        status = pulse_slot_status(config=config, timeout=HEALTH_CHECK_TIMEOUT)
        if not status.reachable:
            return Health("fail", "Unreachable", status.error)
        if not status.exists:
            return Health(
                "fail", "Slot missing", f"The replication slot {config.slot_name} is not in the database."
            )
        if config.last_error:
            return Health("fail", "Failing", config.last_error)
        if status.lag_bytes is not None and status.lag_bytes > LAG_WARNING_BYTES:
            return Health("warn", "Lagging", f"{status.lag_bytes:,} bytes of WAL not yet captured.")
        return Health("on", "Enabled", "Changes are being captured.")

    pending = (
        Health("fail", "Failing", config.last_error, checked=False)
        if config.last_error
        else Health("on", "Enabled", checked=False)
    )
    # A new report from the worker (or its clearing) makes a kept answer stale.
    moments = [config.enabled_at, config.last_error_at]
    key = f"pulse:health:{project.pk}:" + ":".join(str(m.timestamp()) if m else "-" for m in moments)
    return health_cached(key, live=live, check=check, pending=pending)


# --- The capture worker and the event log ------------------------------------------------------


@dataclass(frozen=True)
class CaptureTarget:
    """What the capture worker needs for one enabled project. ``connection_string`` is the
    decrypted URL (never logged); empty when it cannot be decrypted."""

    project_id: uuid.UUID
    organization_id: int
    slot_name: str
    publication_name: str
    connection_string: str = field(repr=False)
    version: str  # changes whenever Pulse is enabled again or reconfigured: the reader restarts


def pulse_capture_targets() -> dict[uuid.UUID, CaptureTarget]:
    """Every project with Pulse enabled, by project id."""
    targets = {}
    for config in PulseConfig.objects.filter(enabled=True).select_related("project"):
        try:
            connection_string = decrypt(config.connection_string)
        except DecryptionError:
            connection_string = ""
        targets[config.project_id] = CaptureTarget(
            project_id=config.project_id,
            organization_id=config.project.organization_id,
            slot_name=config.slot_name,
            publication_name=config.publication_name,
            connection_string=connection_string,
            version=f"{config.enabled_at and config.enabled_at.isoformat()}|{config.slot_name}",
        )
    return targets


def pulse_recent_events(*, project: Project, limit: int = 20) -> list[PulseEvent]:
    """The project's latest captured events, newest first (the Pulse tab's live tail)."""
    return list(PulseEvent.objects.filter(project=project).order_by("-seq")[:limit])


def pulse_last_captured_at(*, config: PulseConfig) -> dt.datetime | None:
    """When the project's newest change was captured: the worker's report, or the newest event's
    time if that is later (the tab's status and its live tail never disagree)."""
    newest = (
        PulseEvent.objects.filter(project_id=config.project_id)
        .order_by("-seq")
        .values_list("captured_at", flat=True)
        .first()
    )
    candidates = [moment for moment in (config.last_captured_at, newest) if moment is not None]
    return max(candidates, default=None)


def pulse_example_model(*, config: PulseConfig) -> str:
    """A table the examples can stream: one the project covers, as the stream endpoint names it
    (``schema.table`` outside public); ``TABLE`` while none is known yet."""
    if config.tables:
        return str(config.tables[0]).removeprefix("public.")
    if config.captured_models:
        return str(sorted(config.captured_models)[0])
    return "TABLE"


@dataclass(frozen=True)
class StreamTarget:
    """What the stream endpoint needs of an enabled project."""

    project_id: uuid.UUID
    organization_id: int
    models: tuple[str, ...] | None  # the tables captured; None while not known (any is accepted)


def pulse_enabled_projects(*, project_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Of these projects, the ones with Pulse enabled now (one query)."""
    enabled = PulseConfig.objects.filter(project_id__in=project_ids, enabled=True)
    return set(enabled.values_list("project_id", flat=True))


def pulse_stream_target(*, project_id: uuid.UUID) -> StreamTarget | None:
    """The project's stream settings, or None when Pulse is not enabled for it."""
    config = PulseConfig.objects.filter(project_id=project_id, enabled=True).select_related("project").first()
    if config is None:
        return None
    models: list[str] | None = list(config.captured_models) or None
    if models is None and config.tables:
        models = [table.removeprefix("public.") for table in config.tables]
    return StreamTarget(
        project_id=config.project_id,
        organization_id=config.project.organization_id,
        models=tuple(models) if models is not None else None,
    )
