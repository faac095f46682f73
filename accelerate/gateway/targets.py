"""From a project API key to the database it may query: the gateway's directory of targets.

Keys are checked by the projects app's key service (a warm key costs no query; a deleted
key stops working everywhere within a second). What a project's Accelerate configuration
says is kept per process for ``GATEWAY_CONFIG_TTL`` (1 s): a disabled or changed
configuration reaches every gateway process within that time, and a busy project costs
one configuration read per second, not one per request.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.conf import settings

from accelerate.gateway.app import Target
from accelerate.selectors import accelerate_gateway_config
from dataplane.errors import DataPlaneError
from dataplane.keys import INVALID_KEY
from projects.services import aapi_key_authenticate
from userdb.encryption import DecryptionError

log = logging.getLogger("accelerate.gateway")


def _load(project_id: uuid.UUID, organization_id: int) -> Target | DataPlaneError:
    try:
        config = accelerate_gateway_config(project_id=project_id)
    except DecryptionError:
        log.error(
            "project=%s: the stored connection string cannot be decrypted with SECRET_ENCRYPTION_KEYS",
            project_id,
        )
        return DataPlaneError(
            "P6000", "The project's stored configuration cannot be read; an operator must fix it."
        )
    if config is None:
        return DataPlaneError(
            "P6001", "Accelerate is not configured for this project: configure it in the console."
        )
    if not config.enabled:
        return DataPlaneError("P6010", "Accelerate is disabled for this project: enable it in the console.")
    return Target(
        project_id=str(project_id),
        organization_id=organization_id,
        database=config.database,
        connection_limit=config.connection_limit,
        pool_timeout=float(config.pool_timeout_seconds),
        query_timeout=float(config.query_timeout_seconds),
        response_limit=config.response_size_limit_bytes,
        version=config.updated.isoformat(),
    )


class TargetDirectory:
    def __init__(self, *, ttl: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = settings.GATEWAY_CONFIG_TTL if ttl is None else ttl
        self.clock = clock
        self._entries: dict[uuid.UUID, tuple[float, int, Target | DataPlaneError]] = {}

    async def resolve(self, raw_key: str) -> Target:
        """The key's project's target; DataPlaneError P6002 / P6001 / P6010 otherwise."""
        api_key = await aapi_key_authenticate(raw_key)
        if api_key is None:
            raise DataPlaneError("P6002", INVALID_KEY)
        project = api_key.project
        result = await self.lookup(project.pk, project.organization_id)
        if isinstance(result, DataPlaneError):
            raise result
        return result

    async def lookup(self, project_id: uuid.UUID, organization_id: int) -> Target | DataPlaneError:
        entry = self._entries.get(project_id)
        if entry is None or self.clock() - entry[0] >= self.ttl:
            entry = (self.clock(), organization_id, await sync_to_async(_load)(project_id, organization_id))
            self._entries[project_id] = entry
        return entry[2]

    async def unusable(self, project_ids: list[str]) -> list[str]:
        """Of these projects, the ones that can no longer be served (disabled, deleted, unconfigured)."""
        gone = []
        for project_id in project_ids:
            key = uuid.UUID(project_id)
            entry = self._entries.get(key)
            organization_id = entry[1] if entry else 0
            if isinstance(await self.lookup(key, organization_id), DataPlaneError):
                gone.append(project_id)
        return gone
