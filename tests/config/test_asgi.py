"""The one ASGI entry point: which paths the data plane takes from Django (config/asgi.py)."""

from __future__ import annotations

import pytest
from django.urls import Resolver404, get_resolver, resolve

from config.dataplane import serves

PRISMA_ROUTES = [
    "/connection-info",
    "/query",
    "/invalidate",
    "/transaction/start",
    "/transaction/node.0f6c5c7e-5d1a-4f43-9a55-2b5f1c1f0b1e/query",
    "/transaction/node.0f6c5c7e-5d1a-4f43-9a55-2b5f1c1f0b1e/commit",
    "/transaction/node.0f6c5c7e-5d1a-4f43-9a55-2b5f1c1f0b1e/rollback",
]


@pytest.mark.parametrize("path", [*PRISMA_ROUTES, "/accelerate/v1/query", "/pulse/v1/stream"])
def test_prisma_client_s_routes_and_the_products_prefixes_go_to_the_data_plane(path):
    assert serves(path)


@pytest.mark.parametrize("path", PRISMA_ROUTES)
def test_no_console_page_lives_where_the_data_plane_takes_requests(path):
    with pytest.raises(Resolver404):
        resolve(path)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login/",
        "/admin/",
        "/o/acme/",
        "/o/acme/projects/",
        "/query/",
        "/queryx",
        "/invalidate/x",
        "/transactions/",
    ],
)
def test_everything_else_stays_the_console_s(path):
    assert not serves(path)


def test_no_console_url_pattern_starts_with_a_data_plane_path():
    def prefixes(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            text = prefix + str(pattern.pattern)
            if hasattr(pattern, "url_patterns"):
                yield from prefixes(pattern, text)
            else:
                yield "/" + text.lstrip("^")

    for route in prefixes(get_resolver()):
        literal = route.split("<", 1)[0].split("(", 1)[0]
        assert not serves(literal), route
