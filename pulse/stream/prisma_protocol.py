"""What ``@prisma/extension-pulse`` (1.2.x) sends and understands: headers, errors, acknowledgements.

The wire protocol, as read in the package and checked on the wire, is in
docs/pulse-prisma-protocol.md. This module is pure: it imports nothing from Django or the apps,
so the data plane's WebSocket endpoints and the tests share it as is.

- ``parse_subscription(text)``: the ``subscription`` upgrade header, the model's fields and
  types (``PrismaModel``), its name and the raw ``where`` (filters: ``prisma_filters``).
- ``parse_stream(text)``: the ``stream`` upgrade header, ``{"name": …}`` or ``{}``.
- ``parse_client_message(text)``: what the client sends on the socket, ``{"type":"ack","id":…}``.
- ``PulseRefusal``: a refused handshake, answered with the JSON body the extension turns into
  its typed errors (``refusal_body``); ``CODES`` says which code becomes which error class.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# The codes the extension knows (its errors module); any other code becomes a PrismaPulseServerError
# whose ``code`` is P6100, with the server's message. The HTTP status is not looked at.
CODES: dict[str, str] = {
    "P6100": "PrismaPulseServerError",  # name "ServerError"; also every unknown code
    "P6101": "PrismaPulseDatasourceError",  # name "DatasourceError"
    "P6102": "PrismaPulseUnauthorizedError",  # name "Unauthorized"
    "P6103": "PrismaPulseProjectDisabledError",  # name "ProjectDisabledError"
    "P6104": "PrismaPulseAccountHoldError",  # name "AccountHoldError"
    "P6105": "PrismaPulseVersionNotSupportedError",  # name "VersionNotSupported"
    "P6106": "PrismaPulseStreamsDisabledError",  # name "StreamsDisabledError"
}

SERVER_ERROR = "P6100"
DATASOURCE_ERROR = "P6101"
UNAUTHORIZED = "P6102"
PROJECT_DISABLED = "P6103"
ACCOUNT_HOLD = "P6104"
VERSION_NOT_SUPPORTED = "P6105"
STREAMS_DISABLED = "P6106"

# The HTTP status that goes with each code (the extension ignores it; logs and proxies do not).
STATUS: dict[str, int] = {
    SERVER_ERROR: 400,  # a refusal for a reason the extension has no class for: bad input, busy name
    DATASOURCE_ERROR: 503,
    UNAUTHORIZED: 401,
    PROJECT_DISABLED: 403,
    ACCOUNT_HOLD: 403,
    VERSION_NOT_SUPPORTED: 400,
    STREAMS_DISABLED: 403,
}

# The subscription header carries the whole model; a few hundred fields is a large Prisma model.
MAX_HEADER_CHARS = 64 * 1024
MAX_FIELDS = 2000
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
IDENTIFIER = re.compile(r"[^\x00]{1,127}")


class PulseRefusal(Exception):
    """A handshake the server refuses, before the WebSocket is accepted.

    ``code`` is one of ``CODES``; refusals the extension has no class for (a bad subscription,
    an unknown model, a busy stream name) use P6100 and say what is wrong in ``message``, with a
    machine-readable ``reason`` (and ``path`` for a filter) in ``details``.
    """

    def __init__(self, code: str, message: str, *, status: int | None = None, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS.get(code, 400) if status is None else status
        self.details = details

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON the extension reads: ``{"code","message","requestId","details"?}`` at the top level."""
        payload: dict[str, Any] = {"code": self.code, "message": self.message, "requestId": request_id}
        if self.details:
            payload["details"] = self.details
        return payload


def bad_subscription(message: str, reason: str = "invalid_subscription", **details: Any) -> PulseRefusal:
    return PulseRefusal(SERVER_ERROR, message, reason=reason, **details)


# The model -------------------------------------------------------------------------------------------

SCALAR_TYPES = frozenset(
    {"String", "Int", "BigInt", "Float", "Decimal", "Boolean", "DateTime", "Json", "Bytes"}
)


@dataclass(frozen=True, slots=True)
class PrismaField:
    name: str  # the field's name in the Prisma schema: the key in events and filters
    kind: str  # "scalar" | "enum" | "object" (a relation) | others the server does not use
    type: str  # "String", "Int", …, an enum's name, a related model's name
    column: str  # the database column: ``@map`` if any, else the name
    is_list: bool | None  # older clients say; Prisma 7 does not (None: unknown)

    @property
    def value_type(self) -> str:
        """The type that decides how values are compared and tagged: ``enum`` for every enum."""
        return "enum" if self.kind == "enum" else self.type


@dataclass(frozen=True, slots=True)
class PrismaModel:
    name: str  # the Prisma model name, "User"
    db_name: str | None  # ``@@map``
    schema: str | None  # ``@@schema``; None means the datasource's default schema
    fields: dict[str, PrismaField] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.db_name or self.name

    @property
    def log_model_name(self) -> str:
        """The model name the capture logs for this table: ``table`` in public, else ``schema.table``."""
        schema = self.schema or "public"
        return self.table if schema == "public" else f"{schema}.{self.table}"

    @property
    def scalar_fields(self) -> list[PrismaField]:
        return [f for f in self.fields.values() if f.kind in ("scalar", "enum")]


@dataclass(frozen=True, slots=True)
class Subscription:
    model: PrismaModel
    where: dict[str, Any] | None  # as sent: name, create, update, delete (prisma_filters compiles it)
    client_version: str | None = None


def _json_object(text: str | None, what: str) -> dict[str, Any]:
    if text is None or not text.strip():
        raise bad_subscription(f"The `{what}` header is missing.", reason=f"missing_{what}_header")
    if len(text) > MAX_HEADER_CHARS:
        raise bad_subscription(
            f"The `{what}` header is larger than {MAX_HEADER_CHARS} characters.", reason="header_too_large"
        )
    try:
        value = json.loads(text)
    except ValueError:
        raise bad_subscription(
            f"The `{what}` header is not JSON.", reason=f"malformed_{what}_header"
        ) from None
    if not isinstance(value, dict):
        raise bad_subscription(
            f"The `{what}` header must be a JSON object.", reason=f"malformed_{what}_header"
        )
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.fullmatch(value):
        raise bad_subscription(f"The subscription's {what} must be a non-empty string.")
    return value


def _optional_text(value: Any, what: str) -> str | None:
    return None if value is None else _text(value, what)


def _field(raw: Any) -> PrismaField:
    if not isinstance(raw, dict):
        raise bad_subscription("Each of the model's fields must be an object with name, kind and type.")
    name = _text(raw.get("name"), "field name")
    is_list = raw.get("isList")
    if is_list is not None and not isinstance(is_list, bool):
        raise bad_subscription(f"The field {name!r} has a non-boolean isList.")
    return PrismaField(
        name=name,
        kind=_text(raw.get("kind"), f"kind of field {name!r}"),
        type=_text(raw.get("type"), f"type of field {name!r}"),
        column=_optional_text(raw.get("dbName"), f"dbName of field {name!r}") or name,
        is_list=is_list,
    )


def parse_subscription(text: str | None, *, client_version: str | None = None) -> Subscription:
    """The ``subscription`` header: ``{"model":{"fields":[…],"dbName","schema"},"modelName","where"?}``."""
    raw = _json_object(text, "subscription")
    model_name = _text(raw.get("modelName"), "modelName")
    model = raw.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("fields"), list):
        raise bad_subscription("The subscription's model must be an object with a list of fields.")
    raw_fields = model["fields"]
    if len(raw_fields) > MAX_FIELDS:
        raise bad_subscription(f"The model has more than {MAX_FIELDS} fields.")
    fields: dict[str, PrismaField] = {}
    for raw_field in raw_fields:
        parsed = _field(raw_field)
        if parsed.name in fields:
            raise bad_subscription(f"The model names the field {parsed.name!r} twice.")
        fields[parsed.name] = parsed
    columns = [f.column for f in fields.values() if f.kind in ("scalar", "enum")]
    if len(columns) != len(set(columns)):
        raise bad_subscription("Two of the model's fields map to the same column.")
    where = raw.get("where")
    if where is not None and not isinstance(where, dict):
        raise bad_subscription(
            "The subscription's where must be an object.", reason="invalid_filter", path=""
        )
    return Subscription(
        model=PrismaModel(
            name=model_name,
            db_name=_optional_text(model.get("dbName"), "model dbName"),
            schema=_optional_text(model.get("schema"), "model schema"),
            fields=fields,
        ),
        where=where,
        client_version=client_version,
    )


def parse_stream(text: str | None) -> str | None:
    """The ``stream`` header's name: ``{"name":"…"}`` names a resumable stream, ``{}`` none.

    The extension always sends the header (``{}`` when there is no name); a missing header is
    read as no name. The ``where`` of the subscription header repeats the name; this one counts.
    """
    if text is None or not text.strip():
        return None
    raw = _json_object(text, "stream")
    name = raw.get("name")
    if name is None:
        return None
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise bad_subscription(
            "The stream name must be 1 to 100 letters, digits, '.', '_' or '-'.", reason="invalid_stream_name"
        )
    return name


# On the socket ---------------------------------------------------------------------------------------


class ClientMessageError(ValueError):
    """A frame from the client that is not an acknowledgement this server understands."""


@dataclass(frozen=True, slots=True)
class Ack:
    event_id: int


MAX_CLIENT_MESSAGE_CHARS = 1024


def parse_client_message(text: str | bytes) -> Ack:
    """``{"type":"ack","id":"1042"}`` → Ack(1042). The extension echoes the id as the frame had it
    (this server sends a string); a number is taken too."""
    if len(text) > MAX_CLIENT_MESSAGE_CHARS:
        raise ClientMessageError("the message is too large")
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise ClientMessageError("the message is not JSON") from None
    if not isinstance(message, dict) or message.get("type") != "ack":
        raise ClientMessageError('the only message a client sends is {"type":"ack","id":…}')
    event_id = message.get("id")
    if isinstance(event_id, str) and event_id.isascii() and event_id.isdigit() and len(event_id) <= 19:
        event_id = int(event_id)
    if isinstance(event_id, bool) or not isinstance(event_id, int) or not 0 < event_id < 2**63:
        raise ClientMessageError("the acknowledged id is not an event id")
    return Ack(event_id)


# Values the log holds as text ---------------------------------------------------------------------


def enum_list(value: Any) -> list[str | None] | None:
    """An array of an enum as the log holds it: PostgreSQL's text form (``{HAPPY,"SO SAD",NULL}``).

    The capture loads values with psycopg's built-in types; an array of a user-defined type (an
    enum) is not one of them, so it arrives as its text. This reads a one-dimensional array back
    into its labels; None when ``value`` is not such a text.
    """
    if not isinstance(value, str) or len(value) < 2 or value[0] != "{" or value[-1] != "}":
        return None
    body = value[1:-1]
    items: list[str | None] = []
    if not body:
        return items
    i, n = 0, len(body)
    while i <= n:
        if i < n and body[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and body[i] != '"':
                if body[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(body[i])
                i += 1
            if i >= n:
                return None  # an unterminated quote: not an array's text
            i += 1
            items.append("".join(chars))
        else:
            end = body.find(",", i)
            end = n if end == -1 else end
            raw = body[i:end].strip()
            if not raw or "{" in raw or '"' in raw:
                return None  # empty elements or nesting: not a one-dimensional array's text
            items.append(None if raw.upper() == "NULL" else raw)
            i = end
        if i < n and body[i] != ",":
            return None
        i += 1
    return items
