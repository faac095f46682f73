"""The stream endpoint's errors: Accelerate's JSON shape and codes (DESIGN.md section 7), plus one.

They are answered before the stream starts; once it has, the connection just ends.
"""

from __future__ import annotations

from typing import Any

STATUS = {
    "P6000": 500,  # server error
    "P6002": 401,  # unauthorized: no key, a malformed, expired or deleted one
    "P6003": 429,  # the API key is over its rate limit or its number of open streams
    "P6005": 400,  # invalid parameters: model, actions, name, Last-Event-ID, the ack body
    "P6010": 403,  # Pulse is not enabled for the key's project
    "P6011": 409,  # the named stream is already open on another connection
}


class StreamError(Exception):
    def __init__(self, code: str, message: str, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # seconds, sent as the Retry-After header (P6003)
        self.extra = extra

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def payload(self, request_id: str) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra, "requestId": request_id}}
