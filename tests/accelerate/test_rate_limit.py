"""The gateway's per-key rate limit: P6003 with Retry-After, per key, and refilled over time."""

from __future__ import annotations

import http.client
import json

import pytest

from accelerate.gateway.service import build_gateway
from dataplane.limits import TokenBuckets
from tests.accelerate.test_gateway import post

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = '{"query": "SELECT 1 AS one"}'


def test_a_key_over_its_limit_gets_p6003_with_retry_after_and_others_do_not(
    accelerate_project, gateway_server
):
    gateway_server.gateway.limiter = TokenBuckets(rate=1, burst=3, clock=gateway_server.clock)
    answers = [post(gateway_server, "/accelerate/v1/query", QUERY, accelerate_project.key) for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200]

    host, port = gateway_server.url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request(
        "POST",
        "/accelerate/v1/query",
        body=QUERY,
        headers={"Authorization": f"Bearer {accelerate_project.key}"},
    )
    refused = conn.getresponse()
    payload = json.loads(refused.read())
    conn.close()
    assert refused.status == 429
    assert refused.getheader("Retry-After") == "1"
    assert payload["error"]["code"] == "P6003"
    assert payload["error"]["requestId"].startswith("req_")
    # Invalidation counts against the same key.
    assert post(gateway_server, "/accelerate/v1/invalidate-all", "", accelerate_project.key)[0] == 429

    # Another key (even an unknown one) has its own bucket: it is answered on its merits.
    status, payload = post(gateway_server, "/accelerate/v1/query", QUERY, "dpk_" + "x" * 38)
    assert status == 401 and payload["error"]["code"] == "P6002"

    gateway_server.clock.advance(1.0)
    assert post(gateway_server, "/accelerate/v1/query", QUERY, accelerate_project.key)[0] == 200


def test_the_gateway_takes_its_limit_from_settings(settings):
    settings.GATEWAY_RATE_LIMIT_PER_SECOND = 25.0
    settings.GATEWAY_RATE_LIMIT_BURST = 40
    gateway, _ = build_gateway()
    assert gateway.limiter is not None
    assert (gateway.limiter.rate, gateway.limiter.burst) == (25.0, 40.0)
