"""The newcomer's second day in the browser (issue 17): `make run`, Ctrl-C, `make run` again at
once — the demo's curl, the Accelerate tab and the Pulse live tail all still work.

`make run`'s supervisor runs here as the newcomer runs it (`python -m devtools.devserver`), on a
port and a data folder of the test's own; every process it started is stopped afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from devtools import bootstrap, embedded_pg
from tests.devserver import ROOT, DevServer, free_port


@pytest.fixture
def make_run(server_tmp) -> Iterator[DevServer]:
    server = DevServer(server_tmp / "data", free_port())
    yield server
    try:
        server.stop()
    finally:
        server.kill()
        for server_dir in (
            bootstrap.console_server_dir(server.data_dir),
            bootstrap.demo_server_dir(server.data_dir),
        ):
            embedded_pg.stop(server_dir)


def log_in(page: Page, run: DevServer) -> None:
    email, password = run.demo_login()
    page.goto(run.base_url + "/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Demo project").first).to_be_visible()


def check_the_demo(page: Page, run: DevServer) -> None:
    """The curl, the Accelerate tab and a row inserted with `make demo-insert` in the Pulse live tail."""
    assert run.query("SELECT id, email, name FROM users WHERE id = $1", [1])["rows"] == [
        [1, "ada@example.com", "Ada Lovelace"]
    ]
    log_in(page, run)
    page.get_by_role("link", name="Demo project").first.click()
    page.get_by_role("link", name="Accelerate", exact=True).first.click()
    expect(page.locator("#accelerate-status")).to_contain_text("Enabled")
    demo_port = re.search(r"@127\.0\.0\.1:(\d+)/demo", run.demo_database_url())
    assert demo_port
    expect(
        page.get_by_text(re.compile(rf"demo:••••@127\.0\.0\.1:{demo_port.group(1)}/demo")).first
    ).to_be_visible()

    page.get_by_role("link", name="Pulse", exact=True).first.click()
    expect(page.locator("#pulse-events")).to_be_visible()
    run.wait_for("reading slot", timeout=60)
    inserted = subprocess.run(
        [sys.executable, "manage.py", "demoinsert"],
        cwd=ROOT,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert inserted.returncode == 0, inserted.stderr
    email = re.search(r"\((demo-\w+@example\.com)\)", inserted.stdout)
    assert email, inserted.stdout
    expect(page.locator("#pulse-events")).to_contain_text(email.group(1), timeout=20_000)


def test_stop_and_start_again_at_once_and_the_demo_still_works(page, make_run):
    make_run.start()
    demo_database = make_run.demo_database_url()
    check_the_demo(page, make_run)

    # The tab polls every 2 s: leave it first, so no late poll sets another CSRF cookie under the
    # next login form (as a newcomer would close the tab and log in again).
    page.goto("about:blank")
    page.context.clear_cookies()
    assert make_run.stop() == 0  # Ctrl-C
    assert "Embedded PostgreSQL stopped." in make_run.output

    make_run.start()  # at once: the old connections in TIME_WAIT do not make the port "in use"
    assert "is in use" not in make_run.output
    # The embedded servers kept their ports, so every stored connection string still works.
    assert make_run.demo_database_url() == demo_database
    assert "moved from port" not in make_run.output
    check_the_demo(page, make_run)
