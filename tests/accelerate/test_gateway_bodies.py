"""The gateway's request bodies: refused past their limit before they are read whole, and bad JSON of
any shape (50,000 levels deep included) is a P6005, never a server error with a traceback."""

from __future__ import annotations

import http.client
import logging

import pytest

from accelerate.gateway.app import MAX_BODY_BYTES
from tests.dataplane.oversize import nested_json, peak_resident_growth, post_chunked_flood, post_declaring

pytestmark = pytest.mark.django_db(transaction=True)

BODY_ENDPOINTS = ["/accelerate/v1/query", "/accelerate/v1/invalidate"]
FLOOD = 200 * 1024 * 1024


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_declared_over_the_limit_is_refused_before_it_is_sent(items, gateway_server, path):
    host, port = gateway_server.url.rsplit(":", 1)
    answer = post_declaring(
        host, int(port), path, {"Authorization": f"Bearer {items.key}"}, length=FLOOD, timeout=5
    )
    assert answer.status == 400
    assert answer.body["error"]["code"] == "P6005"
    assert f"{MAX_BODY_BYTES:,} bytes" in answer.body["error"]["message"]


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_a_body_of_unknown_length_is_cut_off_at_the_limit_not_held_in_memory(items, gateway_server, path):
    host, port = gateway_server.url.rsplit(":", 1)
    with peak_resident_growth() as growth:
        answer = post_chunked_flood(host, int(port), path, {"Authorization": f"Bearer {items.key}"}, FLOOD)
    assert answer.status == 400
    assert answer.body["error"]["code"] == "P6005"
    # Answered once the limit was passed (plus what the sockets buffer), not after 200 MB...
    assert answer.sent < 32 * 1024 * 1024, f"{answer.sent:,} bytes were sent before the answer"
    # ...and the server never held the flood (the test and the server share this process).
    assert growth[0] < 64 * 1024 * 1024, f"resident memory grew by {growth[0]:,} bytes"


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_json_nested_50000_levels_deep_is_p6005_without_a_traceback(items, gateway_server, path, caplog):
    host, port = gateway_server.url.rsplit(":", 1)
    body = b'{"query": ' + nested_json(50_000) + b', "tags": ' + nested_json(50_000) + b"}"
    assert len(body) < MAX_BODY_BYTES
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    with caplog.at_level(logging.INFO):
        connection.request(
            "POST",
            path,
            body=body,
            headers={"Authorization": f"Bearer {items.key}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
    connection.close()
    assert response.status == 400, payload
    assert b'"P6005"' in payload
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], [
        r.getMessage() for r in caplog.records
    ]
