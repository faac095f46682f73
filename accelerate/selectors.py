"""Reads of Accelerate: a project's configuration, what the tab shows, what the gateway needs."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest

from accelerate.models import AccelerateConfig
from console.products import Health, health_cached
from projects.models import Project
from projects.selectors import project_api_keys
from userdb.connection_strings import ConnectionString, ConnectionStringError, connection_check, parse
from userdb.encryption import DecryptionError, decrypt

# A live health check gives the database this long to answer SELECT 1 (DNS and connecting included).
HEALTH_CHECK_TIMEOUT = 2.0


def accelerate_config_for_project(*, project: Project) -> AccelerateConfig | None:
    """The project's Accelerate configuration, or None when it was never configured."""
    return AccelerateConfig.objects.filter(project=project).first()


def accelerate_health(project: Project, live: bool) -> Health | None:
    """Whether Accelerate works for the project: "Disabled", "Enabled" when its database answers a
    live check (SELECT 1 within HEALTH_CHECK_TIMEOUT, kept for a while), "Unreachable" when it
    does not. None when Accelerate was never configured. Without ``live``, only a kept answer
    is read (``checked`` False when there is none yet)."""
    try:
        config = project.accelerate_config  # through the relation: the Overview selects it along
    except AccelerateConfig.DoesNotExist:
        return None
    if not config.enabled:
        return Health("off", "Disabled", "Applications get error P6010 until it is enabled again.")

    def check() -> Health:
        try:
            connection_check(parse(decrypt(config.connection_string)), timeout=HEALTH_CHECK_TIMEOUT)
        except DecryptionError:
            return Health("fail", "Unreachable", "The stored connection string cannot be decrypted.")
        except ConnectionStringError as error:
            return Health("fail", "Unreachable", error.message)
        return Health("on", "Enabled", "The database answers.")

    key = f"accelerate:health:{project.pk}:{config.updated.timestamp()}"
    return health_cached(key, live=live, check=check, pending=Health("on", "Enabled", checked=False))


def project_api_key_count(*, project: Project) -> int:
    """How many API keys the project has (the instructions say to create one when there are none)."""
    return project_api_keys(project=project).count()


def accelerate_public_host(*, request: HttpRequest) -> str:
    """The HOST of ``prisma://HOST/?api_key=…``: ACCELERATE_PUBLIC_HOST, else this request's host."""
    return settings.ACCELERATE_PUBLIC_HOST or request.get_host()


def accelerate_http_base(*, host: str) -> str:
    """Where a client sends queries for ``prisma://HOST``: https, or http for a loopback host."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    try:
        loopback = ipaddress.ip_address(name).is_loopback
    except ValueError:
        loopback = name == "localhost" or name.endswith(".localhost")
    return f"{'http' if loopback else 'https'}://{host}"


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs to serve one project (DESIGN.md section 7)."""

    project_id: uuid.UUID
    enabled: bool
    database: ConnectionString  # parsed; resolve and guard its host before connecting
    region: str
    connection_limit: int
    pool_timeout_seconds: int
    query_timeout_seconds: int
    response_size_limit_bytes: int
    updated: datetime  # changes whenever the configuration does: rebuild pools when it moves


def accelerate_gateway_config(*, project_id: uuid.UUID) -> GatewayConfig | None:
    """The project's configuration with its connection string decrypted, or None if not configured.

    Raises userdb.encryption.DecryptionError when no configured key opens the string.
    """
    config = AccelerateConfig.objects.filter(project_id=project_id).first()
    if config is None:
        return None
    return GatewayConfig(
        project_id=config.project_id,
        enabled=config.enabled,
        database=parse(decrypt(config.connection_string)),
        region=config.region,
        connection_limit=config.connection_limit,
        pool_timeout_seconds=config.pool_timeout_seconds,
        query_timeout_seconds=config.query_timeout_seconds,
        response_size_limit_bytes=config.response_size_limit_bytes,
        updated=config.updated,
    )
