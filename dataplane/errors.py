"""The data plane's errors: Accelerate's P-codes (DESIGN.md section 7), one exception for all.

An endpoint raises ``DataPlaneError``; the application's exception handler (``error_response``
for the JSON shape of the console's own protocols) turns it into the answer, so no endpoint
builds an error response by hand.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import HTTPConnection
from starlette.responses import Response

STATUS = {
    "P6000": 500,  # server error
    "P6001": 400,  # invalid data source / the product is not configured
    "P6002": 401,  # unauthorized: no key, a malformed, expired or deleted one
    "P6003": 429,  # limit reached (rate, open streams)
    "P6004": 504,  # query timeout (also: no pooled connection within the pool timeout)
    "P6005": 400,  # invalid parameters
    "P6008": 502,  # database connection error
    "P6009": 413,  # response size limit exceeded
    "P6010": 403,  # product disabled
    "P6011": 409,  # Pulse: the named stream is already open on another connection
    "P2010": 400,  # the database refused the query (its SQLSTATE and message pass through)
}


class DataPlaneError(Exception):
    def __init__(self, code: str, message: str, *, retry_after: int | None = None, **extra: Any) -> None:
        if code not in STATUS:
            raise ValueError(f"Unknown data plane error code {code!r}.")
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
        self.retry_after = retry_after  # seconds, sent as the Retry-After header (P6003)

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def payload(self, request_id: str) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra, "requestId": request_id}}


def request_id_of(connection: HTTPConnection) -> str:
    """The id ``RequestContext`` gave this request ("-" outside it, as in unit tests of a handler)."""
    return str(connection.scope.get("state", {}).get("request_id", "-"))


async def error_response(connection: HTTPConnection, error: Exception) -> Response:
    """The exception handler of the console's own protocols: ``{"error": {code, message, …, requestId}}``."""
    if not isinstance(error, DataPlaneError):
        error = DataPlaneError("P6000", "The server failed; the request id identifies it in the logs.")
    return Response(
        json.dumps(error.payload(request_id_of(connection))),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )
