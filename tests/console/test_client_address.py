"""The client's address (console.audit.client_ip): what login throttling, rate limits and the
audit log count and record — the peer, or what a configured trusted proxy saw."""

from __future__ import annotations

from django.test import RequestFactory

from console.audit import client_ip


def request_from(remote: str, **headers: str):
    return RequestFactory().get("/", REMOTE_ADDR=remote, headers=headers)


def test_without_a_trusted_proxy_header_the_address_is_the_peer(settings):
    settings.TRUSTED_PROXY_HEADER = ""
    assert client_ip(request_from("192.0.2.10", x_forwarded_for="198.51.100.7")) == "192.0.2.10"


def test_the_trusted_proxy_header_gives_the_address_the_proxy_saw(settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXY_COUNT = 1
    # The proxy appends what it saw; what the client put in front is ignored.
    assert client_ip(request_from("10.0.0.2", x_forwarded_for="198.51.100.7")) == "198.51.100.7"
    assert client_ip(request_from("10.0.0.2", x_forwarded_for="203.0.113.1, 198.51.100.7")) == "198.51.100.7"
    # Two proxies: the second from the right.
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from("10.0.0.2", x_forwarded_for="1.2.3.4, 198.51.100.7, 10.0.0.9")) == (
        "198.51.100.7"
    )
    # Too short (did not come through both proxies), missing or not an address: the peer.
    assert client_ip(request_from("10.0.0.2", x_forwarded_for="198.51.100.7")) == "10.0.0.2"
    assert client_ip(request_from("10.0.0.2")) == "10.0.0.2"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.2", x_forwarded_for="not-an-address")) == "10.0.0.2"
