"""Request bodies, read within a limit: a body over it is refused before it is read whole."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from dataplane.errors import DataPlaneError


async def read_body(request: Request, *, limit: int) -> bytes:
    """The body, if it is at most ``limit`` bytes (P6005 otherwise, as soon as that is known:
    from ``Content-Length``, or once the bytes read so far pass the limit)."""
    too_large = DataPlaneError("P6005", f"The request body is larger than {limit:,} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes, *, what: str = "The request body must be a JSON object.") -> Any:
    """The JSON value of body; P6005 (never a server error) for anything that is not JSON,
    nested JSON deeper than the parser's recursion limit included."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise DataPlaneError("P6005", what) from None


def parse_json_or_none(body: bytes) -> Any:
    """The JSON value of body, or None for anything that is not JSON (the caller says what it wanted)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


async def read_json(request: Request, *, limit: int) -> Any:
    return parse_json(await read_body(request, limit=limit))
