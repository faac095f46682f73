"""Browser tests: the system Chromium driven by Playwright against pytest-django's live_server."""

from __future__ import annotations

import contextlib
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
    Content-Security-Policy, and the violation reports of every document the page loads (a
    ``securitypolicyviolation`` listener added before any script runs); a browser test that
    leaves any here fails (see below), whether it happened on load or after an htmx swap."""
    page = request.getfixturevalue("page")
    violations: list[str] = []

    def record(message):
        if CSP_REFUSAL in message.text:
            violations.append(message.text)

    page.context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", record)
    request.node.csp_violations = violations
    request.node.csp_page = page
    return violations


CSP_REFUSAL = "Content Security Policy"
REPORT_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (event) => console.error(
  `Content Security Policy violation report: ${event.violatedDirective} ${event.blockedURI}`));"""


def csp_flush(page) -> None:
    """Let reports of what the page just did (a swap that settles a moment later) reach the test."""
    with contextlib.suppress(Exception):  # the page is gone or navigating: nothing left to report
        page.evaluate("new Promise((done) => requestAnimationFrame(() => setTimeout(done, 50)))")


@pytest.fixture(autouse=True)
def _watch_for_csp_violations(request):
    """Every browser test watches for CSP refusals: that is the check that the policy and the pages agree."""
    if "page" in request.fixturenames:
        request.getfixturevalue("csp_violations")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    page = getattr(item, "csp_page", None)
    if page is not None and not page.is_closed():
        csp_flush(page)
    violations = getattr(item, "csp_violations", None)
    if violations:
        raise AssertionError("The page broke its Content-Security-Policy:\n" + "\n".join(violations))
    return result
