"""Any bytes or text as the API key, `model`, `name`, `actions` or `Last-Event-ID` on the stream
endpoint (and as the name or body of an ack) get a stream or a well-formed JSON error, never a 500.

Driven through the real stream endpoint (uvicorn on loopback) with a real capture worker."""

from __future__ import annotations

import http.client
import json
import re
from typing import Any
from urllib.parse import quote_from_bytes, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

stream_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ERROR_CODE = re.compile(r"P6\d{3}")
VALID = object()  # stands for the fixture's real API key

texts = st.text(max_size=60) | st.binary(max_size=60)
parameters = st.none() | texts | st.sampled_from(["orders", "public.orders", "customers", "create,delete"])
# Header values as HTTP can carry them: visible ASCII and obs-text, no surrounding space.
header_values = (
    st.none()
    | st.binary(max_size=40).map(lambda raw: bytes(b for b in raw if 0x21 <= b <= 0x7E or b >= 0x80))
    | st.integers(0, 2**70).map(lambda n: str(n).encode())
)


def as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", errors="surrogatepass") if isinstance(value, str) else value


def assert_json_error(response: http.client.HTTPResponse) -> dict[str, Any]:
    raw = response.read()
    assert 400 <= response.status < 500, (response.status, raw)
    assert response.getheader("Content-Type") == "application/json"
    error = json.loads(raw)["error"]
    assert ERROR_CODE.fullmatch(error["code"]) and error["message"] and error["requestId"].startswith("req_")
    return error


@stream_settings
@given(
    key=st.just(VALID) | st.none() | texts,
    model=parameters,
    name=parameters,
    actions=parameters,
    last_event_id=header_values,
)
def test_any_stream_request_gets_a_stream_or_a_json_error(live, key, model, name, actions, last_event_id):
    query = {
        field: as_bytes(value)
        for field, value in (("model", model), ("name", name), ("actions", actions))
        if value is not None
    }
    if key is VALID:
        query["api_key"] = live.key.encode()
    elif key is not None:
        query["api_key"] = as_bytes(key)
    encoded = "&".join(f"{field}={quote_from_bytes(value, safe='')}" for field, value in query.items())
    parts = urlsplit(live.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.putrequest("GET", f"{parts.path}?{encoded}")
        if last_event_id:
            connection.putheader("Last-Event-ID", last_event_id)
        connection.endheaders()
        response = connection.getresponse()
        if response.status == 200:
            assert response.getheader("Content-Type", "").startswith("text/event-stream")
            assert response.readline() == b": connected\n"
        else:
            assert_json_error(response)
    finally:
        connection.close()


@stream_settings
@given(name=texts, body=st.binary(max_size=200) | st.sampled_from([b'{"id": 1}', b'{"id": "7"}']))
def test_any_ack_gets_a_json_answer(live, name, body):
    parts = urlsplit(live.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(
            "POST",
            f"/pulse/v1/streams/{quote_from_bytes(as_bytes(name), safe='')}/ack",
            body=body,
            headers={"Authorization": f"Bearer {live.key}"},
        )
        response = connection.getresponse()
        if response.status == 200:
            assert response.getheader("Content-Type") == "application/json"
            assert set(json.loads(response.read())) == {"name", "acknowledged", "requestId"}
        elif response.status == 404:
            # Not a route: an empty name, one with a '/', or one with a line break (Starlette's
            # Mount pattern `.*` stops at a newline). Starlette answers these itself.
            assert not name or b"/" in as_bytes(name) or b"\n" in as_bytes(name)
        else:
            assert_json_error(response)
    finally:
        connection.close()
