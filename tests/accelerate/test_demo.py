"""`make run`'s demo: Accelerate is configured on the demo database and the printed commands work."""

from __future__ import annotations

import io
import re
import shlex
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def seeddemo(monkeypatch, host: str) -> str:
    host_name, port = host.split(":")
    monkeypatch.setenv("HOST", host_name)
    monkeypatch.setenv("PORT", port)
    monkeypatch.setattr("sys.stdin", io.StringIO("demo-password-1\n"))
    out = io.StringIO()
    call_command("seeddemo", "--password-stdin", stdout=out)
    return out.getvalue()


def test_the_demo_prints_a_curl_and_a_client_that_query_the_demo_database(
    monkeypatch, demo_sandbox, gateway_server
):
    out = seeddemo(monkeypatch, gateway_server.url)
    found = re.search(r"Bearer (dpk_\w+)", out)
    assert found, out
    key = found.group(1)
    # A second run reuses the same key (it is kept in the development secrets).
    assert f"Bearer {key}" in seeddemo(monkeypatch, gateway_server.url)

    curl = next(line.strip() for line in out.splitlines() if line.strip().startswith("curl "))
    answer = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=30, check=True)
    assert '"rows":[[1,"ada@example.com","Ada Lovelace"]]' in answer.stdout

    python = next(line.strip() for line in out.splitlines() if line.strip().startswith(".venv/bin/python -c"))
    argv = shlex.split(python)
    answer = subprocess.run(
        [sys.executable, *argv[1:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=settings.BASE_DIR,
    )
    assert answer.stdout.strip() in ("[['3']] miss", "[['3']] ttl")
