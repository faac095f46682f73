"""Accelerate's error codes (DESIGN.md section 7), and the one exception the gateway raises."""

from __future__ import annotations

from typing import Any

STATUS = {
    "P6000": 500,  # server error
    "P6001": 400,  # invalid data source / Accelerate not configured
    "P6002": 401,  # unauthorized
    "P6003": 429,  # limit reached
    "P6004": 504,  # query timeout (also: no pooled connection within the pool timeout)
    "P6005": 400,  # invalid parameters
    "P6008": 502,  # database connection error
    "P6009": 413,  # response size limit exceeded
    "P6010": 403,  # product disabled
    "P2010": 400,  # the database refused the query (its SQLSTATE and message pass through)
}


class GatewayError(Exception):
    def __init__(self, code: str, message: str, *, retry_after: int | None = None, **extra: Any) -> None:
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
