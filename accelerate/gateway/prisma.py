"""Accelerate for Prisma Client: the routes ``@prisma/client`` 7 with ``@prisma/extension-accelerate``
sends to the host root of its ``prisma://`` / ``prisma+postgres://`` connection string.

``GET /connection-info``, ``POST /query``, ``POST /transaction/start``,
``POST /transaction/{id}/query|commit|rollback`` and ``POST /invalidate`` (docs/accelerate.md,
"Prisma Client"). The client compiles each query into a *query plan*; the gateway authenticates
the key, applies the project's limits, serves cached reads itself and forwards everything else to
Prisma's own executor in the sidecar (``executors.py``), relaying its answers. Errors are
answered in Prisma's shape: JSON ``code`` + ``message`` (the client also reads ``error`` and
``meta``) and the ``Prisma-Error-Code`` header, which is what ``PrismaClientKnownRequestError``
is built from.

Caching follows Accelerate: ``cache-control: max-age=TTL, stale-while-revalidate=SWR`` (or
``no-cache``) and ``accelerate-cache-tags`` drive the gateway's one query cache. Only the read
operations below are cached, and their misses run on read-only connections, so a plan that writes
is refused by the database rather than cached. Answers carry ``accelerate-cache-status``,
``last-modified`` and ``cf-ray: <requestId>-<REGION>``, which ``withAccelerateInfo()`` reports.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from accelerate.gateway.app import (
    MAX_CACHE_SECONDS,
    CacheStrategy,
    Gateway,
    Target,
    cancel_on_disconnect,
    parse_tags,
)
from accelerate.gateway.cache import CacheUnavailable
from accelerate.gateway.executors import CLIENT_VERSION, Executors, answer_json
from accelerate.gateway.sidecar import SidecarResponse
from dataplane.bodies import parse_json, read_body
from dataplane.errors import DataPlaneError, request_id_of
from dataplane.middleware import RequestContext

log = logging.getLogger("accelerate.gateway")

# What is cached when the request asks for it (the extension's cacheStrategy): the read
# operations, by the plan's `operation` field. Anything else runs uncached (status "none").
READ_OPERATIONS = frozenset(
    {
        "findMany",
        "findFirst",
        "findFirstOrThrow",
        "findUnique",
        "findUniqueOrThrow",
        "count",
        "aggregate",
        "groupBy",
    }
)
MAX_CONTROL_BODY_BYTES = 64 * 1024  # transaction options, invalidation tags
TRANSACTION_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
# The sidecar answers that the gateway turns into its own codes (docs/accelerate.md).
REASON_CODES = {
    "pool-timeout": "P6004",
    "query-timeout": "P6004",
    "response-too-large": "P6009",
    "invalid-request": "P6005",
    "database-unreachable": "P6008",
    "database-refused": "P6008",
}
READ_ONLY_VIOLATION = (
    "This read operation tried to write to the database, so it was refused: a read sent with a "
    "cacheStrategy runs on a read-only connection and is never allowed to write. Nothing was "
    "written or cached; send it without cacheStrategy."
)
TRANSACTION_NOT_FOUND = (
    "Transaction API error: Transaction not found. Transaction ID is invalid, refers to an old "
    "closed transaction Prisma doesn't have information about anymore, or was obtained before "
    "disconnecting."
)
UNSUPPORTED_REMEMBERED_SECONDS = 60.0


def region_code(region: str) -> str:
    """The region as it goes into ``cf-ray``: letters and digits only, upper case.

    The extension reads ``info.region`` as the part of ``cf-ray`` after its first ``-``, so the
    code must not contain one: ``eu-west-1`` becomes ``EUWEST1``.
    """
    return re.sub(r"[^A-Za-z0-9]", "", region).upper()[:32] or "LOCAL"


def node_name(name: str) -> str:
    """This machine's name as it goes into transaction ids: letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", name)[:32] or "node"


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


class PrismaAnswer(Exception):
    """An error answer to pass on to the client as it is (Prisma's executor's, or one in its shape)."""

    def __init__(self, status: int, body: bytes, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.body = body
        self.code = code


def transaction_not_found(message: str = TRANSACTION_NOT_FOUND) -> PrismaAnswer:
    body = json.dumps({"code": "P2028", "error": message, "meta": {"error": message}})
    return PrismaAnswer(409, body.encode(), "P2028")


def executor_failure(response: SidecarResponse) -> Exception:
    """What the client gets for an error answer of the sidecar (docs/accelerate.md, "Errors")."""
    reason = response.headers.get("executor-error")
    answer = answer_json(response)
    message = str(answer.get("error") or answer.get("message") or f"HTTP {response.status}")
    if reason is None and response.status < 500:
        # Prisma's own answer (P2002, P2025, P2028, …): unchanged.
        code = answer.get("code")
        return PrismaAnswer(response.status, response.body, code if isinstance(code, str) else "P6000")
    if reason == "read-only-violation":
        return DataPlaneError("P6005", READ_ONLY_VIOLATION)
    if reason == "shutting-down":
        return DataPlaneError("P6000", "The query executor is restarting: retry in a moment.")
    if reason in REASON_CODES:
        return DataPlaneError(REASON_CODES[reason], message)
    if reason == "executor-error":
        log.error("the query executor failed: %s", message)
        return DataPlaneError("P6000", f"The query executor could not run the query: {message}")
    log.error("unexpected answer of the query executor: status=%s reason=%s", response.status, reason)
    return DataPlaneError("P6000", f"The query executor answered unexpectedly: {message}")


def cache_strategy(request: Request) -> CacheStrategy | None:
    """The extension's cacheStrategy, from ``cache-control`` and ``accelerate-cache-tags``."""
    header = request.headers.get("cache-control")
    if not header:
        return None
    seconds = {"max-age": 0.0, "stale-while-revalidate": 0.0}
    for directive in header.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-cache", "no-store"):
            return None
        if name in seconds:
            try:
                number = float(value.strip())
            except ValueError:
                number = -1.0
            if not 0 <= number <= MAX_CACHE_SECONDS:
                raise DataPlaneError(
                    "P6005",
                    f"cache-control {name} must be a number of seconds from 0 to {MAX_CACHE_SECONDS}.",
                )
            seconds[name] = number
    if seconds["max-age"] == 0 and seconds["stale-while-revalidate"] == 0:
        return None
    tags_header = request.headers.get("accelerate-cache-tags", "")
    tags = [tag.strip() for tag in tags_header.split(",")] if tags_header.strip() else None
    return CacheStrategy(
        seconds["max-age"], seconds["stale-while-revalidate"], parse_tags(tags, required=False)
    )


def parse_plan(body: bytes) -> dict[str, Any]:
    not_a_plan = (
        "The request body is not a Prisma query plan: a JSON object with `operation`, `plan` and "
        "`params` (what @prisma/client 7 sends to /query)."
    )
    payload = parse_json(body, what=not_a_plan)
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("operation"), str)
        or not isinstance(payload.get("plan"), dict)
        or not isinstance(payload.get("params"), dict)
    ):
        raise DataPlaneError("P6005", not_a_plan)
    return payload


def plan_cache_key(client_version: str, body: bytes) -> str:
    """The cache key of a plan request: project (the cache's namespace), client version and body.

    The body as the client serialized it (Prisma Client serializes the same query the same way),
    so that a hit needs no parsing: an entry exists only for a body that was checked as a read
    plan when it missed. Only a body that carries ``comments`` (SQL commenter tags, e.g. a trace
    id, which do not change the result) is parsed and keyed without them, keys sorted.
    """
    if b'"comments"' in body:
        payload = parse_plan(body)
        canonical = json.dumps(
            {name: value for name, value in payload.items() if name != "comments"},
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        return "prisma:c:" + hashlib.sha256(client_version.encode() + b"\x00" + canonical).hexdigest()
    return "prisma:" + hashlib.sha256(client_version.encode() + b"\x00" + body).hexdigest()


class PrismaGateway:
    """The Prisma routes' behaviour; shares the raw protocol's keys, limits, cache and meter."""

    def __init__(
        self,
        gateway: Gateway,
        executors: Executors,
        *,
        node: str,
        region: str,
        max_body_bytes: int,
    ) -> None:
        self.gateway = gateway
        self.executors = executors
        self.node = node_name(node)
        self.region_code = region_code(region)
        self.max_body_bytes = max_body_bytes
        self._unsupported: dict[str, tuple[float, DataPlaneError]] = {}

    # Steps every route shares ----------------------------------------------------------------

    async def _target(self, request: Request) -> Target:
        target = await self.gateway.resolve(self.gateway.admit(request))
        request.state.log["project"] = target.project_id
        return target

    def _client_version(self, request: Request) -> str:
        version = request.headers.get("prisma-engine-hash", "")
        if not CLIENT_VERSION.fullmatch(version):
            shown = json.dumps(version[:64])
            raise DataPlaneError(
                "P6005",
                f"Prisma-Engine-Hash {shown} is not a Prisma Client version: send the request with "
                "@prisma/client 7 and @prisma/extension-accelerate (docs/accelerate.md lists the "
                "versions served).",
            )
        remembered = self._unsupported.get(version)
        if remembered is not None:
            if time.monotonic() - remembered[0] < UNSUPPORTED_REMEMBERED_SECONDS:
                raise remembered[1]
            del self._unsupported[version]
        return version

    async def _forward(
        self,
        target: Target,
        version: str,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        read_only: bool = False,
    ) -> SidecarResponse:
        headers = [("Content-Type", "application/json")]
        if read_only:
            headers.append(("Executor-Read-Only", "true"))
        try:
            response = await self.executors.request(target, version, method, path, body=body, headers=headers)
        except DataPlaneError as error:
            if "supportedClientVersions" in error.extra and len(self._unsupported) < 1000:
                self._unsupported[version] = (time.monotonic(), error)
            raise
        if response.status >= 300:
            raise executor_failure(response)
        return response

    def _answer(
        self, request: Request, body: bytes, *, cache: str = "none", created: float | None = None
    ) -> Response:
        return Response(
            body,
            media_type="application/json",
            headers={
                "accelerate-cache-status": cache,
                "last-modified": http_date(time.time() if created is None else created),
                "cf-ray": f"{request_id_of(request)}-{self.region_code}",
            },
        )

    async def _metered(
        self, request: Request, work: Callable[[Target], Awaitable[Response]], *, query: bool
    ) -> Response:
        """Run a route's work for the request's project, counting it as ``raw`` queries are counted."""
        target = await self._target(request)
        meter = self.gateway.meter
        try:
            response = await work(target)
        except Exception:  # every error answer counts (a cancelled request is not one)
            meter.add(
                organization_id=target.organization_id,
                project_id=target.project_id,
                queries=1 if query else 0,
                errors=1,
            )
            raise
        counts = {"queries": 1 if query else 0, "egress_bytes": len(response.body)}
        status = request.state.log.get("cache")
        if status in ("ttl", "swr"):
            counts[f"cache_hits_{status}"] = 1
        elif status == "miss":
            counts["cache_misses"] = 1
        meter.add(organization_id=target.organization_id, project_id=target.project_id, **counts)
        return response

    # Routes ------------------------------------------------------------------------------------

    async def connection_info(self, request: Request) -> Response:
        async def work(target: Target) -> Response:
            version = self._client_version(request)
            response = await self._forward(target, version, "GET", "/connection-info")
            return self._answer(request, response.body)

        return await self._metered(request, work, query=False)

    async def query(self, request: Request) -> Response:
        async def work(target: Target) -> Response:
            version = self._client_version(request)
            body = await read_body(request, limit=self.max_body_bytes)
            strategy = cache_strategy(request)

            async def run() -> bytes:
                response = await self._forward(target, version, "POST", "/query", body=body, read_only=True)
                return response.body

            key = None if strategy is None else plan_cache_key(version, body)
            if strategy is not None and key is not None:
                found = await self.gateway.from_cache(target, key, strategy, run)
                if found is not None:
                    answer, status, created = found
                    request.state.log["cache"] = status
                    return self._answer(request, answer, cache=status, created=created)
            operation = parse_plan(body)["operation"]
            request.state.log["operation"] = operation
            if strategy is None or key is None or operation not in READ_OPERATIONS:
                # Writes (and raw queries) sent with a cacheStrategy run uncached: never stored.
                request.state.log["cache"] = "none"
                forwarded = await cancel_on_disconnect(
                    request, self._body_of(self._forward(target, version, "POST", "/query", body=body))
                )
                return self._answer(request, forwarded)
            answer, status, created = await self.gateway.fill(target, key, strategy, run)
            request.state.log["cache"] = status
            return self._answer(request, answer, cache=status, created=created)

        return await self._metered(request, work, query=True)

    async def transaction_start(self, request: Request) -> Response:
        async def work(target: Target) -> Response:
            version = self._client_version(request)
            body = await read_body(request, limit=MAX_CONTROL_BODY_BYTES)
            response = await self._forward(target, version, "POST", "/transaction/start", body=body)
            started = answer_json(response)
            if not isinstance(started.get("id"), str):
                raise DataPlaneError("P6000", "The query executor did not say which transaction it started.")
            transaction = f"{self.node}.{started['id']}"
            request.state.log["transaction"] = transaction
            answer = self._answer(request, json.dumps({**started, "id": transaction}).encode())
            answer.headers["Prisma-Transaction-Id"] = transaction
            return answer

        return await self._metered(request, work, query=False)

    def _transaction(self, request: Request) -> str:
        """The sidecar's id of the transaction in the path (PrismaAnswer P2028 when it is not one of ours)."""
        public = str(request.path_params["transaction"])
        request.state.log["transaction"] = public
        node, _, transaction = public.partition(".")
        if not TRANSACTION_ID.fullmatch(transaction):
            raise transaction_not_found()
        if node != self.node:
            log.warning("transaction %s was started on node %s; this is node %s", public, node, self.node)
            raise transaction_not_found(
                f"Transaction API error: this transaction was started on the Accelerate node {node!r} and "
                f"this is {self.node!r}: requests for /transaction/{node}.… must reach that node "
                "(docs/operations.md, Scaling out)."
            )
        return transaction

    async def transaction_query(self, request: Request) -> Response:
        async def work(target: Target) -> Response:
            version = self._client_version(request)
            transaction = self._transaction(request)
            body = await read_body(request, limit=self.max_body_bytes)
            request.state.log["operation"] = parse_plan(body)["operation"]
            request.state.log["cache"] = "none"  # inside a transaction nothing is cached
            forwarded = await cancel_on_disconnect(
                request,
                self._body_of(
                    self._forward(target, version, "POST", f"/transaction/{transaction}/query", body=body)
                ),
            )
            return self._answer(request, forwarded)

        return await self._metered(request, work, query=True)

    async def transaction_end(self, request: Request, action: str) -> Response:
        async def work(target: Target) -> Response:
            version = self._client_version(request)
            transaction = self._transaction(request)
            await read_body(request, limit=MAX_CONTROL_BODY_BYTES)
            response = await self._forward(target, version, "POST", f"/transaction/{transaction}/{action}")
            return self._answer(request, response.body)

        return await self._metered(request, work, query=False)

    async def invalidate(self, request: Request) -> Response:
        async def work(target: Target) -> Response:
            payload = parse_json(
                await read_body(request, limit=MAX_CONTROL_BODY_BYTES),
                what='The body must be {"tags": ["tag", …]} or {"tags": "all"}.',
            )
            tags = payload.get("tags") if isinstance(payload, dict) else None
            try:
                if tags == "all":
                    await self.gateway.cache.invalidate_all(target.project_id)
                else:
                    await self.gateway.cache.invalidate_tags(
                        target.project_id, parse_tags(tags, required=True)
                    )
            except CacheUnavailable:
                raise DataPlaneError(
                    "P6000", "The query cache is unavailable, so the invalidation was not recorded: retry it."
                ) from None
            return self._answer(request, json.dumps({"requestId": request_id_of(request)}).encode())

        return await self._metered(request, work, query=False)

    @staticmethod
    async def _body_of(forwarding: Awaitable[SidecarResponse]) -> bytes:
        return (await forwarding).body


# Errors in Prisma's shape ----------------------------------------------------------------------


def _prisma_error(connection: HTTPConnection, status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, "requestId": request_id_of(connection)}
    if extra:
        body["meta"] = extra
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"Prisma-Error-Code": code},
    )


async def prisma_error_response(connection: HTTPConnection, error: Exception) -> Response:
    """Any error of a Prisma route: ``{"code", "message", "requestId", "meta"?}`` + ``Prisma-Error-Code``."""
    if isinstance(error, PrismaAnswer):
        return Response(
            error.body,
            status_code=error.status,
            media_type="application/json",
            headers={"Prisma-Error-Code": error.code},
        )
    if isinstance(error, HTTPException):
        method = connection.scope.get("method", "")
        if error.status_code == 405:
            response = _prisma_error(
                connection, 405, "P6005", f"{method} is not allowed on {connection.url.path}."
            )
            response.headers["Allow"] = (error.headers or {}).get("Allow", "")
            return response
        return _prisma_error(
            connection,
            error.status_code,
            "P6005",
            f"No such route: {method} {connection.url.path}. Prisma Client's routes are "
            "GET /connection-info, POST /query, /transaction/start, "
            "/transaction/{id}/query|commit|rollback and /invalidate.",
        )
    if not isinstance(error, DataPlaneError):
        error = DataPlaneError("P6000", "The server failed; the request id identifies it in the logs.")
    response = _prisma_error(connection, error.status, error.code, error.message, **error.extra)
    response.headers.update(error.headers)
    return response


def build_prisma_app(prisma: PrismaGateway) -> ASGIApp:
    """The Prisma routes, mounted at the host root by config/dataplane.py."""

    async def connection_info(request: Request) -> Response:
        return await prisma.connection_info(request)

    async def query(request: Request) -> Response:
        return await prisma.query(request)

    async def transaction_start(request: Request) -> Response:
        return await prisma.transaction_start(request)

    async def transaction_query(request: Request) -> Response:
        return await prisma.transaction_query(request)

    async def transaction_commit(request: Request) -> Response:
        return await prisma.transaction_end(request, "commit")

    async def transaction_rollback(request: Request) -> Response:
        return await prisma.transaction_end(request, "rollback")

    async def invalidate(request: Request) -> Response:
        return await prisma.invalidate(request)

    app = Starlette(
        routes=[
            Route("/connection-info", connection_info, methods=["GET"]),
            Route("/query", query, methods=["POST"]),
            Route("/transaction/start", transaction_start, methods=["POST"]),
            Route("/transaction/{transaction}/query", transaction_query, methods=["POST"]),
            Route("/transaction/{transaction}/commit", transaction_commit, methods=["POST"]),
            Route("/transaction/{transaction}/rollback", transaction_rollback, methods=["POST"]),
            Route("/invalidate", invalidate, methods=["POST"]),
        ],
        exception_handlers={
            DataPlaneError: prisma_error_response,
            PrismaAnswer: prisma_error_response,
            HTTPException: prisma_error_response,
            Exception: prisma_error_response,
        },
    )
    return RequestContext(app, logger="accelerate.gateway")
