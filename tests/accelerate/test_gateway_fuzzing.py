"""Any bytes as an API key or as a request body get a well-formed JSON answer, never a 500.

Driven through the real gateway (uvicorn on loopback) in front of a real user database."""

from __future__ import annotations

import http.client
import json
import re
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAY_EXAMPLES = 60
gateway_settings = settings(
    max_examples=GATEWAY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ERROR_CODE = re.compile(r"P[26]\d{3}")


def send(server, path: str, body: bytes, headers: dict[str, str]):
    host, port = server.url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


def assert_json_answer(status: int, content_type: str | None, raw: bytes) -> dict:
    assert status != 500 and status < 600, raw
    assert content_type == "application/json"
    payload = json.loads(raw)
    if status == 200:
        assert set(payload) >= {"columns", "rows", "rowCount", "info"} or payload["ok"] is True
    else:
        error = payload["error"]
        assert (
            ERROR_CODE.fullmatch(error["code"]) and error["message"] and error["requestId"].startswith("req_")
        )
    return payload


def header_safe(raw: bytes) -> bool:
    return all(0x20 <= byte < 0x7F for byte in raw) and raw.strip() == raw


@gateway_settings
@given(key=st.binary(max_size=120), path=st.sampled_from(["query", "invalidate", "invalidate-all"]))
def test_any_bytes_as_the_api_key_are_refused_with_p6002(items, gateway_server, key, path):
    body = b'{"query": "SELECT 1", "tags": ["t"]}' if path != "invalidate" else b'{"tags": ["t"]}'
    status, content_type, raw = send(
        gateway_server, f"/accelerate/v1/{path}?api_key={quote_from_bytes(key, safe='')}", body, {}
    )
    assert status == 401 and assert_json_answer(status, content_type, raw)["error"]["code"] == "P6002"
    if header_safe(key):
        status, content_type, raw = send(
            gateway_server, f"/accelerate/v1/{path}", body, {"Authorization": "Bearer " + key.decode()}
        )
        assert status == 401 and assert_json_answer(status, content_type, raw)["error"]["code"] == "P6002"


@gateway_settings
@given(body=st.binary(max_size=2000), path=st.sampled_from(["query", "invalidate", "invalidate-all"]))
def test_any_bytes_as_the_body_get_a_json_answer(items, gateway_server, body, path):
    headers = {"Authorization": f"Bearer {items.key}", "Content-Type": "application/json"}
    assert_json_answer(*send(gateway_server, f"/accelerate/v1/{path}", body, headers))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
queries = st.one_of(
    st.sampled_from(
        [
            "SELECT $1 AS value",
            "SELECT $1::text AS value",
            "SELECT $1::int AS value, $2::jsonb AS document",
            "SELECT id, name, price, tags FROM items WHERE id = $1",
            "SELECT * FROM items",
            "SELECT pg_sleep(0)",
        ]
    ),
    st.text(max_size=60),
    json_values,
)
cache_strategies = st.one_of(
    st.none(),
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "ttl": st.one_of(st.integers(-5, 10**12), st.floats(), json_values),
            "swr": st.one_of(st.integers(-5, 10**12), st.floats(), json_values),
            "tags": st.one_of(
                st.lists(st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True), max_size=6), json_values
            ),
        },
    ),
)


@gateway_settings
@given(
    query=queries,
    params=st.one_of(st.lists(json_values, max_size=3), json_values),
    strategy=cache_strategies,
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=2),
)
def test_any_json_request_gets_a_json_answer(items, gateway_server, query, params, strategy, extra):
    request = {**extra, "query": query, "params": params}
    if strategy is not None:
        request["cacheStrategy"] = strategy
    body = json.dumps(request).encode()  # NaN and Infinity included, as Python's json.loads accepts them
    headers = {"Authorization": f"Bearer {items.key}", "Content-Type": "application/json"}
    assert_json_answer(*send(gateway_server, "/accelerate/v1/query", body, headers))
