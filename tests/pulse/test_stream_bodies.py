"""The ack endpoint's body (at most 4 KiB): refused past the limit before it is read whole, and
JSON too deeply nested to parse is a P6005, never a server error."""

from __future__ import annotations

import http.client
import logging
from urllib.parse import urlsplit

import pytest

from console.audit import Actor
from projects.services import api_key_create
from pulse.stream.app import MAX_BODY_BYTES
from tests.dataplane.oversize import nested_json, peak_resident_growth, post_chunked_flood, post_declaring
from tests.pulse.capture_helpers import enable

pytestmark = pytest.mark.django_db(transaction=True)

FLOOD = 200 * 1024 * 1024
ACK = "/pulse/v1/streams/billing/ack"


@pytest.fixture
def ack_target(project, source_url, stream_server):
    enable(project, source_url)
    _, key = api_key_create(project=project, name="ack test", actor=Actor.command("test"))
    parts = urlsplit(stream_server.url)
    return parts.hostname, parts.port, {"Authorization": f"Bearer {key}"}


def test_an_ack_body_declared_over_the_limit_is_refused_before_it_is_sent(ack_target):
    host, port, headers = ack_target
    answer = post_declaring(host, port, ACK, headers, length=FLOOD, timeout=5)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "P6005"
    assert f"{MAX_BODY_BYTES:,} bytes" in answer.body["error"]["message"]


def test_an_ack_body_of_unknown_length_is_cut_off_at_the_limit_not_held_in_memory(ack_target):
    host, port, headers = ack_target
    with peak_resident_growth() as growth:
        answer = post_chunked_flood(host, port, ACK, headers, FLOOD)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "P6005"
    assert answer.sent < 32 * 1024 * 1024, f"{answer.sent:,} bytes were sent before the answer"
    assert growth[0] < 64 * 1024 * 1024, f"resident memory grew by {growth[0]:,} bytes"


def test_an_ack_nested_too_deep_to_parse_is_p6005_without_a_traceback(ack_target, caplog):
    host, port, headers = ack_target
    body = b'{"id": ' + nested_json(1500) + b"}"  # deeper than the parser goes, within 4 KiB
    assert len(body) <= MAX_BODY_BYTES
    connection = http.client.HTTPConnection(host, port, timeout=10)
    with caplog.at_level(logging.INFO):
        connection.request("POST", ACK, body=body, headers={**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
    connection.close()
    assert response.status == 400, payload
    assert b'"P6005"' in payload
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
