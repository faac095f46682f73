"""The project API key a request carries (DESIGN.md section 5)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from dataplane.errors import DataPlaneError

MISSING_KEY = "A project API key is required: send `Authorization: Bearer <key>`."
INVALID_KEY = "The API key is not valid: it is malformed, expired or deleted."


def api_key_of(connection: HTTPConnection) -> str:
    """``Authorization: Bearer KEY``, else the ``api_key`` query parameter; P6002 when neither."""
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = connection.query_params.get("api_key", "")
    if key:
        return key
    raise DataPlaneError("P6002", MISSING_KEY)
