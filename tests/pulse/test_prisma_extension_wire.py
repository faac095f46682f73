"""The real @prisma/extension-pulse against this server's pieces, on the wire.

A small WebSocket server made of pulse/stream/prisma_protocol.py and prisma_values.py (not the
data plane's endpoint, which comes with issue 16's phase 2) serves frames of captured rows; the
pinned extension, driven by tests/prisma/pulse/driver.mjs, must see Dates, bigints, Decimals,
Buffers and parsed Json, acknowledge the ids it was sent, and turn refusals into its typed errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pulse.stream.prisma_filters import compile_subscription_filter
from pulse.stream.prisma_protocol import (
    UNAUTHORIZED,
    PulseRefusal,
    parse_client_message,
    parse_stream,
    parse_subscription,
)
from pulse.stream.prisma_values import FrameEncoder
from tests.pulse.prisma_oracle import record_model

ROOT = Path(__file__).resolve().parents[2]
NODE_PROJECT = ROOT / "tests" / "prisma"
DRIVER = NODE_PROJECT / "pulse" / "driver.mjs"
SCHEMA = NODE_PROJECT / "pulse" / "schema.prisma"


def node_setup() -> None:
    """node, the pinned packages (npm ci in tests/prisma) and the Pulse test model's client."""
    problem = None
    if shutil.which("node") is None:
        problem = "node is not installed"
    elif not (NODE_PROJECT / "node_modules" / "@prisma" / "extension-pulse").is_dir():
        problem = "tests/prisma/node_modules lacks @prisma/extension-pulse: run `npm ci` in tests/prisma"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    if not (NODE_PROJECT / "node_modules" / ".prisma" / "pulse-client").is_dir():
        subprocess.run(
            ["npx", "prisma", "generate", "--schema", str(SCHEMA)],
            cwd=NODE_PROJECT,
            env={**os.environ, "PRISMA_SCHEMA_ENGINE_BINARY": "/bin/true"},
            check=True,
            capture_output=True,
            timeout=120,
        )


@dataclass
class WireServer:
    """Answers each WebSocket the way ``script`` says; remembers what the client sent."""

    frames: list[str] = field(default_factory=list)
    refusal: PulseRefusal | None = None
    requests: list[tuple[str, Headers]] = field(default_factory=list)
    received: list[str] = field(default_factory=list)
    port: int = 0

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append((request.path, request.headers))
        refusal = self.refusal
        if refusal is None:
            try:
                subscription = parse_subscription(request.headers.get("subscription"))
                compile_subscription_filter(subscription.where, subscription.model)
                parse_stream(request.headers.get("stream"))
            except PulseRefusal as error:
                refusal = error
        if refusal is None:
            return None
        body = json.dumps(refusal.body("req_test")).encode()
        return Response(
            refusal.status,
            "Refused",
            Headers({"Content-Type": "application/json", "Content-Length": str(len(body))}),
            body,
        )

    async def handler(self, websocket: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            for frame in self.frames:
                await websocket.send(frame)
            async for message in websocket:
                self.received.append(message if isinstance(message, str) else message.decode())


@pytest.fixture
def wire_server() -> Iterator[WireServer]:
    node_setup()
    server = WireServer()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        async with serve(server.handler, "127.0.0.1", 0, process_request=server.process_request) as running:
            server.port = next(iter(running.sockets)).getsockname()[1]
            ready.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield server
    assert stop is not None
    loop.call_soon_threadsafe(stop.set_result, None)
    thread.join(10)


def drive(
    server: WireServer,
    *,
    args: dict[str, Any] | None,
    count: int,
    mode: str = "stream",
    extra: Sequence[str] = (),
) -> list[dict]:
    command = [
        "node", str(DRIVER), "--client", ".prisma/pulse-client", "--endpoint", f"http://127.0.0.1:{server.port}/ignored/path",
        "--api-key", "key-1", "--model", "Record", "--mode", mode, "--count", str(count),
    ]  # fmt: skip
    if args is not None:
        command += ["--args", json.dumps(args)]
    command += list(extra)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines, done.stderr
    return lines


ENCODER = FrameEncoder(record_model())
LOGGED = {
    "id": 1, "text": "a", "int": 2, "big": "9007199254740993", "float": "NaN", "decimal": "12.340",
    "bool": True, "mood": "SAD", "at_ts": "2025-05-01T12:00:00.123456", "day": "2025-05-01",
    "json": {"a": [1, None], "$type": "x"}, "bytes": "AAH/", "texts": ["a", None], "ints": [],
    "moods": "{HAPPY,SAD}", "ats": ["2025-05-01T12:00:00.001"], "decimals": ["1.5"], "owner_id": None,
}  # fmt: skip


def test_the_extension_gets_application_types_and_acknowledges_what_it_was_sent(wire_server):
    wire_server.frames = [
        ENCODER.frame(1042, "create", {"created": LOGGED}),
        ENCODER.frame(1043, "update", {"before": {"id": 1, "text": "a"}, "after": {**LOGGED, "text": "b"}}),
        ENCODER.frame(1044, "delete", {"deleted": {"id": 1}}),
    ]
    lines = drive(wire_server, args={"name": "billing", "create": {"text": "a"}}, count=3)
    assert [line["kind"] for line in lines] == ["open", "event", "ack", "event", "ack", "event", "ack", "end"]
    created, updated, deleted = (line for line in lines if line["kind"] == "event")
    assert [line["id"] for line in lines if line["kind"] == "ack"] == ["1042", "1043", "1044"]
    assert lines[-1] == {"kind": "end", "reason": "count", "events": 3}
    assert created == {
        "kind": "event", "n": 1, "id": "1042", "modelName": "Record", "action": "create",
        "created": {"type": "Object", "value": {
            "id": 1, "text": "a", "int": 2, "big": {"type": "BigInt", "value": "9007199254740993"},
            "float": "NaN", "decimal": {"type": "Decimal", "value": "12.34"}, "bool": True, "mood": "SAD",
            "at": {"type": "Date", "iso": "2025-05-01T12:00:00.123Z"},
            "day": {"type": "Date", "iso": "2025-05-01T00:00:00.000Z"},
            "json": {"type": "Object", "value": {"a": [1, None], "$type": "x"}},
            "bytes": {"type": "Bytes", "base64": "AAH/"}, "texts": ["a", None], "ints": [],
            "moods": ["HAPPY", "SAD"], "ats": [{"type": "Date", "iso": "2025-05-01T12:00:00.001Z"}],
            "decimals": [{"type": "Decimal", "value": "1.5"}], "ownerId": None,
        }},
    }  # fmt: skip
    assert updated["after"]["value"]["text"] == "b"
    # `before` reaches the application as sent: the extension decodes created/after/deleted only.
    assert updated["before"] == {"type": "Object", "value": {"id": 1, "text": "a"}}
    assert deleted["deleted"] == {"type": "Object", "value": {"id": 1}}
    # Each event is acknowledged when the application asks for the next (the driver acks the last).
    assert [parse_client_message(m).event_id for m in wire_server.received] == [1042, 1043, 1044]
    assert [json.loads(m) for m in wire_server.received][0] == {"type": "ack", "id": "1042"}
    [(path, headers)] = wire_server.requests
    assert path == "/stream"  # the endpoint's own path is dropped
    assert headers["authorization"] == "Bearer key-1"
    assert json.loads(headers["stream"]) == {"name": "billing"}
    assert headers["prisma-client-version"] == "7.10.0"
    subscription = parse_subscription(headers["subscription"])
    assert subscription.model == record_model()
    assert subscription.where == {"name": "billing", "create": {"text": "a"}}


def test_subscribe_connects_to_subscribe_without_a_name(wire_server):
    wire_server.frames = [ENCODER.frame(7, "delete", {"deleted": {"id": 1}})]
    lines = drive(wire_server, args=None, count=1, mode="subscribe")
    assert lines[0] == {"kind": "open"} and lines[1]["id"] == "7"
    [(path, headers)] = wire_server.requests
    assert path == "/subscribe" and headers["stream"] == "{}"
    assert "where" not in json.loads(headers["subscription"])


def test_a_refused_key_raises_the_extensions_unauthorized_error(wire_server):
    wire_server.refusal = PulseRefusal(UNAUTHORIZED, "The API key is not valid.")
    [line] = drive(wire_server, args={"name": "billing"}, count=1)
    assert line == {
        "kind": "error", "phase": "open", "class": "PrismaPulseUnauthorizedError", "name": "Unauthorized",
        "code": "P6102", "message": "P6102 The API key is not valid. RequestId: req_test",
        "requestId": "req_test", "details": None,
    }  # fmt: skip


def test_an_unsupported_filter_is_refused_with_its_message(wire_server):
    [line] = drive(wire_server, args={"create": {"text": {"search": "cat"}}}, count=1)
    assert line["class"] == "PrismaPulseServerError" and line["code"] == "P6100"
    assert line["message"] == (
        "P6100 Unsupported filter (at create.text.search): full-text search is not supported in Pulse "
        "filters RequestId: req_test"
    )
    assert line["details"] == {"reason": "invalid_filter", "path": "create.text.search"}
    assert wire_server.received == []


def test_the_driver_stops_on_a_signal_without_acknowledging_the_event_in_hand(wire_server):
    wire_server.frames = [ENCODER.frame(i, "delete", {"deleted": {"id": i}}) for i in (1, 2)]
    command = [
        "node", str(DRIVER), "--client", ".prisma/pulse-client", "--endpoint", f"http://127.0.0.1:{wire_server.port}",
        "--api-key", "key-1", "--model", "Record", "--args", '{"name":"n"}', "--delay-ms", "1000",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    # open, event 1, (a second of work), ack 1, event 2: stop while event 2 is in hand
    lines = [json.loads(process.stdout.readline()) for _ in range(4)]
    assert [(line["kind"], line.get("id")) for line in lines] == [
        ("open", None), ("event", "1"), ("ack", "1"), ("event", "2"),
    ]  # fmt: skip
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert [json.loads(line) for line in out.splitlines()] == [
        {"kind": "end", "reason": "signal", "events": 2}
    ]
    assert [parse_client_message(m).event_id for m in wire_server.received] == [1]


def test_without_the_final_ack_the_last_event_counted_stays_unacknowledged(wire_server):
    wire_server.frames = [ENCODER.frame(i, "delete", {"deleted": {"id": i}}) for i in (1, 2, 3)]
    command_args = {"name": "n"}
    lines = drive(wire_server, args=command_args, count=2, extra=["--no-final-ack"])
    assert [line["kind"] for line in lines] == ["open", "event", "ack", "event", "end"]
    assert [parse_client_message(m).event_id for m in wire_server.received] == [1]
