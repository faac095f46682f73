"""A small Python client for the Accelerate gateway.

    from accelerate.client import AccelerateClient, AccelerateError

    client = AccelerateClient("prisma://127.0.0.1:8000/?api_key=dpk_…")
    result = client.query("SELECT id, email FROM users WHERE id = $1", [1],
                          cache_strategy={"ttl": 60, "swr": 30, "tags": ["users"]})
    result.rows          # [[1, "ada@example.com"]]
    result.columns       # ["id", "email"]
    result.cache_status  # "miss", then "ttl" within 60 s, "swr" within the next 30 s
    client.invalidate(["users"])   # drop every cached result tagged "users"
    client.invalidate_all()        # drop every cached result of the project

Errors raise ``AccelerateError`` (or a subclass per code) carrying the P-code, the HTTP
status, the message and the request id. Standard library only; one keep-alive connection
per client (not thread-safe: use one client per thread).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


class AccelerateError(Exception):
    """An error answer of the gateway: ``code`` is Accelerate's P-code (``P6002`` …)."""

    def __init__(
        self, code: str, message: str, status: int, request_id: str = "", sql_state: str = ""
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        self.sql_state = sql_state


class Unauthorized(AccelerateError):
    """P6002: the API key is missing, malformed, expired or deleted."""


class NotConfigured(AccelerateError):
    """P6001: the key's project has no Accelerate configuration."""


class ProductDisabled(AccelerateError):
    """P6010: Accelerate is disabled for the project."""


class QueryTimeout(AccelerateError):
    """P6004: the query (or the wait for a pooled connection) exceeded its timeout."""


class InvalidParameters(AccelerateError):
    """P6005: the request was malformed (query, params, cacheStrategy, tags)."""


class DatabaseConnectionError(AccelerateError):
    """P6008: the gateway could not reach the database."""


class ResponseTooLarge(AccelerateError):
    """P6009: the result exceeded the project's response size limit."""


class LimitReached(AccelerateError):
    """P6003: a rate limit was reached; retry later."""


class DatabaseError(AccelerateError):
    """P2010: the database refused the query; ``sql_state`` holds its SQLSTATE."""


ERRORS: dict[str, type[AccelerateError]] = {
    "P6001": NotConfigured,
    "P6002": Unauthorized,
    "P6003": LimitReached,
    "P6004": QueryTimeout,
    "P6005": InvalidParameters,
    "P6008": DatabaseConnectionError,
    "P6009": ResponseTooLarge,
    "P6010": ProductDisabled,
    "P2010": DatabaseError,
}


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    cache_status: str
    last_modified: str
    region: str
    request_id: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as dictionaries keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AccelerateClient:
    def __init__(self, connection_string: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(connection_string)
        if parts.scheme != "prisma":
            raise ValueError("An Accelerate connection string starts with prisma://")
        api_key = parse_qs(parts.query).get("api_key", [""])[0]
        if not api_key or api_key == "__API_KEY__":
            raise ValueError("The connection string has no api_key: add ?api_key=<your project API key>.")
        if not parts.hostname:
            raise ValueError("The connection string names no host.")
        self.host = parts.hostname
        self.port = parts.port
        self.secure = not _is_local(self.host)  # localhost speaks plain HTTP, like Prisma's client
        self.api_key = api_key
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def query(
        self, sql: str, params: Sequence[Any] = (), *, cache_strategy: dict[str, Any] | None = None
    ) -> QueryResult:
        body: dict[str, Any] = {"query": sql, "params": list(params)}
        if cache_strategy is not None:
            body["cacheStrategy"] = cache_strategy
        payload = self._post("/accelerate/v1/query", body)
        info = payload.get("info", {})
        return QueryResult(
            columns=payload["columns"],
            rows=payload["rows"],
            row_count=payload["rowCount"],
            cache_status=info.get("cacheStatus", ""),
            last_modified=info.get("lastModified", ""),
            region=info.get("region", ""),
            request_id=info.get("requestId", ""),
            raw=payload,
        )

    def invalidate(self, tags: Sequence[str]) -> None:
        self._post("/accelerate/v1/invalidate", {"tags": list(tags)})

    def invalidate_all(self) -> None:
        self._post("/accelerate/v1/invalidate-all", {})

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> AccelerateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.secure else http.client.HTTPConnection
            self._connection = kind(self.host, self.port, timeout=self.timeout)
        return self._connection

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request("POST", path, body=data, headers=headers)
                response = connection.getresponse()
                status, raw = response.status, response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed: retry once on a fresh one.
                self.close()
                if attempt == 2:
                    raise
        try:
            payload: dict[str, Any] = json.loads(raw)
        except ValueError:
            raise AccelerateError(
                "P6000", f"The gateway answered HTTP {status} without JSON.", status
            ) from None
        if status >= 400 or "error" in payload:
            error = payload.get("error", {})
            code = error.get("code", "P6000")
            raise ERRORS.get(code, AccelerateError)(
                code, error.get("message", ""), status, error.get("requestId", ""), error.get("sqlState", "")
            )
        return payload
