"""The gateway's executors on the sidecar: which one serves a request, setting it up, retiring it.

One executor per (project, configuration version, client version) — its id says so, e.g.
``p<project>.c<version>.v7.10.0`` — shared by every gateway process on the machine (they share
one sidecar), so an interactive transaction begun through one process can be continued through
another. Executors are set up lazily: a request goes to the id straight away; the sidecar
answers ``unknown-executor`` for one it does not hold (never set up, idle-closed, or the sidecar
restarted), and then the gateway sets it up (``PUT``) with the project's decrypted connection
string, the address the SSRF guard approved (``hostaddr``: the sidecar connects there and only
there) and the configuration's limits, and sends the request again, once.

Retiring: when a project's configuration version moves, the executors of older versions are
closed (``DELETE``); when the project can no longer be served (disabled, deleted, unconfigured)
all of its executors are (``service.housekeeping`` notices, as it does for the raw protocol's
pools). The sidecar also closes executors nobody used for a while.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from accelerate.gateway.app import Target
from accelerate.gateway.sidecar import SidecarClient, SidecarResponse, SidecarTimeout, SidecarUnavailable
from dataplane.errors import DataPlaneError
from userdb.connection_strings import ConnectionStringError, resolve_allowed_address_async

log = logging.getLogger("accelerate.gateway")

# A client version as Prisma sends it in Prisma-Engine-Hash (the sidecar decides which it serves).
CLIENT_VERSION = re.compile(r"\d{1,4}\.\d{1,4}\.\d{1,4}(?:-[0-9A-Za-z.]{1,40})?")
# Prisma's own executor caps interactive transactions (Accelerate documents 15 s at most).
MAX_TRANSACTION_TIMEOUT_MS = 15_000
MAX_TRANSACTION_WAIT_MS = 5_000
SETUP_MARGIN_SECONDS = 5.0  # beyond the pool timeout, which is also the sidecar's connect timeout

SIDECAR_DOWN = (
    "The Accelerate query executor is not available ({detail}); the operator must start it "
    "(node accelerate/executor/server.js, see docs/operations.md). Retry in a moment."
)


def executor_id(target: Target, client_version: str) -> str:
    """The executor for this project, configuration version and client version."""
    version = hashlib.sha256(target.version.encode()).hexdigest()[:12]
    return f"p{target.project_id.replace('-', '')}.c{version}.v{client_version}"


def sidecar_failure(error: SidecarUnavailable | SidecarTimeout) -> DataPlaneError:
    if isinstance(error, SidecarTimeout):
        return DataPlaneError("P6004", f"The query executor did not answer in time ({error}).")
    return DataPlaneError("P6000", SIDECAR_DOWN.format(detail=error))


def answer_json(response: SidecarResponse) -> dict[str, Any]:
    try:
        value = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


class Executors:
    """The executors this gateway process uses on the sidecar at ``client.path``."""

    def __init__(self, client: SidecarClient) -> None:
        self.client = client
        # project id -> {executor id: configuration version} this process has used
        self.used: dict[str, dict[str, str]] = {}
        self._setups: dict[str, asyncio.Future[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    def timeout(self, target: Target) -> float:
        """How long a request may take on the sidecar before the gateway gives up on it."""
        return target.pool_timeout + target.query_timeout + SETUP_MARGIN_SECONDS

    async def request(
        self,
        target: Target,
        client_version: str,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> SidecarResponse:
        """The sidecar's answer to ``method path`` (a Prisma route) on the target's executor.

        Sets the executor up when the sidecar does not hold it, then retries once. Raises
        DataPlaneError when the sidecar is unavailable, the setup fails, or the executor
        cannot be set up.
        """
        executor = executor_id(target, client_version)
        self._note_use(target, executor)
        target_path = f"/executors/{executor}{path}"
        headers = (("Prisma-Engine-Hash", client_version), *headers)
        try:
            response = await self.client.request(
                method, target_path, body=body, headers=headers, timeout=self.timeout(target)
            )
            if response.headers.get("executor-error") != "unknown-executor":
                return response
            await self.setup(target, client_version, executor)
            response = await self.client.request(
                method, target_path, body=body, headers=headers, timeout=self.timeout(target)
            )
        except (SidecarUnavailable, SidecarTimeout) as error:
            raise sidecar_failure(error) from None
        if response.headers.get("executor-error") == "unknown-executor":
            raise DataPlaneError(
                "P6000", "The query executor lost the project's executor just after its setup."
            )
        return response

    async def setup(self, target: Target, client_version: str, executor: str) -> None:
        """Set the executor up on the sidecar (concurrent callers share one setup)."""
        pending = self._setups.get(executor)
        if pending is None:
            pending = asyncio.ensure_future(self._setup(target, client_version, executor))
            self._setups[executor] = pending
            pending.add_done_callback(lambda _: self._setups.pop(executor, None))
        await asyncio.shield(pending)

    async def _setup(self, target: Target, client_version: str, executor: str) -> None:
        database = target.database
        try:
            address = await resolve_allowed_address_async(database.host, database.port)
        except ConnectionStringError as error:
            raise DataPlaneError("P6008", f"Could not connect to the database: {error.message}") from None
        body = {
            "clientVersion": client_version,
            "connection": database.connect_kwargs(
                hostaddr=address, connect_timeout=min(5.0, target.pool_timeout)
            ),
            "schema": database.schema,
            "limits": {
                "connectionLimit": target.connection_limit,
                "poolTimeoutMs": int(target.pool_timeout * 1000),
                "queryTimeoutMs": int(target.query_timeout * 1000),
                "maxResponseBytes": target.response_limit,
                "maxTransactionTimeoutMs": MAX_TRANSACTION_TIMEOUT_MS,
                "maxTransactionWaitMs": MAX_TRANSACTION_WAIT_MS,
            },
        }
        try:
            response = await self.client.request(
                "PUT",
                f"/executors/{executor}",
                body=json.dumps(body).encode(),
                headers=(("Content-Type", "application/json"),),
                timeout=target.pool_timeout + SETUP_MARGIN_SECONDS,
            )
        except (SidecarUnavailable, SidecarTimeout) as error:
            raise sidecar_failure(error) from None
        if response.status in (200, 201):
            return
        reason = response.headers.get("executor-error", "")
        if reason == "executor-exists":
            # Another gateway process set it up first, with another of the host's addresses.
            return
        answer = answer_json(response)
        message = str(answer.get("error") or f"the executor could not be set up (HTTP {response.status})")
        if reason in ("database-unreachable", "database-refused"):
            raise DataPlaneError("P6008", message)
        if reason == "unsupported-client-version":
            raise DataPlaneError(
                "P6005", message, supportedClientVersions=answer.get("supportedClientVersions", [])
            )
        if reason == "invalid-setup":
            raise DataPlaneError(
                "P6001",
                f"Accelerate cannot use this project's connection string for Prisma Client: {message}",
            )
        log.error(
            "executor setup failed: project=%s status=%s reason=%s",
            target.project_id,
            response.status,
            reason,
        )
        raise DataPlaneError("P6000", f"The query executor refused the setup: {message}")

    # Retiring ----------------------------------------------------------------------------

    def _note_use(self, target: Target, executor: str) -> None:
        known = self.used.setdefault(target.project_id, {})
        if executor in known:
            return
        stale = [old for old, version in known.items() if version != target.version]
        known[executor] = target.version
        for old in stale:
            del known[old]
            self._spawn(self.close(old))

    def projects(self) -> list[str]:
        return list(self.used)

    async def retire(self, project_id: str) -> None:
        """Close every executor of the project this process used (it can no longer be served)."""
        for executor in self.used.pop(project_id, {}):
            await self.close(executor)

    async def close(self, executor: str) -> None:
        """DELETE the executor (its open transactions roll back); gone already is fine."""
        try:
            response = await self.client.request("DELETE", f"/executors/{executor}", timeout=10.0)
        except (SidecarUnavailable, SidecarTimeout) as error:
            log.warning("could not close executor %s: %s", executor, error)
            return
        if response.status not in (200, 404):
            log.warning("closing executor %s answered HTTP %s", executor, response.status)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await self.client.close()
