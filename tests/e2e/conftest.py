"""Browser tests: the system Chromium driven by Playwright against pytest-django's live_server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


@pytest.fixture(scope="session", autouse=True)
def _allow_orm_beside_playwright():
    """The sync Playwright API runs an event loop in this thread, which trips Django's
    async-safety check for the ORM calls the tests make; they are not inside that loop.
    Session-scoped because the test database is set up after the browser starts; the
    root conftest runs browser tests last so no other test runs with this set."""
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package (`apt-get install chromium`)."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture
def login_page(page, live_server):
    """log_in(user) -> the page, signed in as that user (session cookie copied from the test client)."""

    def log_in(user):
        client = Client()
        client.force_login(user)
        page.context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
        )
        return page

    return log_in


@pytest.fixture
def csp_violations(request):
    """The console messages in which the browser refused something under the page's
    Content-Security-Policy; a browser test that leaves any here fails (see below)."""
    page = request.getfixturevalue("page")
    violations: list[str] = []

    def record(message):
        if CSP_REFUSAL in message.text:
            violations.append(message.text)

    page.on("console", record)
    request.node.csp_violations = violations
    return violations


CSP_REFUSAL = "Content Security Policy"


@pytest.fixture(autouse=True)
def _watch_for_csp_violations(request):
    """Every browser test watches for CSP refusals: that is the check that the policy and the pages agree."""
    if "page" in request.fixturenames:
        request.getfixturevalue("csp_violations")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    violations = getattr(item, "csp_violations", None)
    if violations:
        raise AssertionError("The page broke its Content-Security-Policy:\n" + "\n".join(violations))
    return result
