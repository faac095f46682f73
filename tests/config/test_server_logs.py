"""No API key reaches a log line: the documented production command and `make run`'s web server are
run for real, sent requests that carry a key in ``?api_key=``, and their whole output is searched."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection

from console.audit import Actor
from devtools.devserver import _children
from projects.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def documented_command(port: int) -> list[str]:
    """The uvicorn line of docs/deployment.md, on this test's address."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    line = next(line for line in text.splitlines() if line.startswith("uvicorn config.asgi:application"))
    words = shlex.split(line)
    words[words.index("--host") + 1] = "127.0.0.1"
    words[words.index("--port") + 1] = str(port)
    return [sys.executable, "-m", *words]


def make_run_command(port: int) -> list[str]:
    """The web server `make run` starts (devtools/devserver.py)."""
    web = next(child for child in _children("127.0.0.1", str(port)) if child.name == "web server")
    return web.command


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A data folder with the collected static files a production server serves (`collectstatic`)."""
    folder = tmp_path_factory.mktemp("console-data")
    env = {**production_env(folder), "DATABASE_URL": "postgres://unused@127.0.0.1:1/unused"}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    return folder


def production_env(data_dir: Path) -> dict[str, str]:
    db = connection.settings_dict
    keep = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "TEST_DATABASE_URL", "EMBEDDED_DATABASE_URL", "LOG_LEVEL"}
    }
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": "logs-test-" + uuid.uuid4().hex * 2,
        "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "False",
        "CONSOLE_DATA_DIR": str(data_dir),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Credentials in console paths: an invitation link's token, a password-reset link's token.
INVITATION_TOKEN = "inv" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
RESET_TOKEN = "cz1k2a-" + uuid.uuid4().hex


def serve_and_collect_output(command: list[str], port: int, key: str, data_dir: Path) -> str:
    """Start the server, send it requests with the key in the query string (and links with tokens
    in their path), stop it; its output."""
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=production_env(data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0].decode()
                assert time.monotonic() < deadline, "the server did not start listening within 30 s"
                time.sleep(0.1)
        requests = [
            ("GET", f"/pulse/v1/stream?model=orders&api_key={key}", None),
            ("POST", f"/accelerate/v1/query?api_key={key}", b'{"query": "SELECT 1"}'),
            ("POST", f"/pulse/v1/streams/billing/ack?api_key={key}", b'{"id": 1}'),
            ("GET", f"/login/?next=/&api_key={key}", None),
            ("GET", f"/no-such-page/?api_key={key}", None),
            ("GET", f"/invitations/{INVITATION_TOKEN}/", None),
            ("GET", f"/invitations/{INVITATION_TOKEN}", None),  # redirected to the slash
            ("GET", f"/account/password/reset/MQ/{RESET_TOKEN}/", None),
        ]
        for method, path, body in requests:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            client.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = client.getresponse()
            response.read()
            assert response.status < 500, (path, response.status)
            client.close()
        time.sleep(0.5)  # the access lines are written after the answers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    return output.decode(errors="replace")


@pytest.fixture
def key(project) -> str:
    _, raw_key = api_key_create(project=project, name="logged?", actor=Actor.command("test"))
    return raw_key


def test_the_documented_production_command_logs_requests_but_never_a_key(key, data_dir):
    port = free_port()
    output = serve_and_collect_output(documented_command(port), port, key, data_dir)
    # The requests are in the log (the data plane's lines and the server's access lines)...
    for path in ("/pulse/v1/stream", "/accelerate/v1/query", "/pulse/v1/streams/billing/ack", "/login/"):
        assert path in output, output
    # ...but not the key, nor any query string that could carry one.
    assert key not in output, output
    assert key[4:20] not in output, output
    assert "api_key=" not in output, output
    # Links that are credentials are logged without them.
    assert "/invitations/[redacted]/" in output, output
    assert INVITATION_TOKEN not in output and RESET_TOKEN not in output, output


def test_make_run_web_server_never_logs_a_key(key, data_dir):
    port = free_port()
    output = serve_and_collect_output(make_run_command(port), port, key, data_dir)
    assert "/pulse/v1/stream" in output, output  # the data plane's access log
    assert key not in output, output
    assert key[4:20] not in output, output
    assert "api_key=" not in output, output


def test_every_line_is_redacted_by_the_one_formatter_whatever_logged_it():
    """The formatter behind every logger (uvicorn's included) redacts tracebacks and WebSocket
    request lines too: what a second transport or an unexpected error might write."""
    import logging

    from config.log_format import RedactingFormatter
    from projects.keys import key_generate

    raw_key = key_generate()
    # Every logger, uvicorn's included, writes through the one handler with the redacting formatter
    # (the configuration, not this process's loggers: in-process test servers reconfigure uvicorn's).
    logging_config: dict[str, Any] = django_settings.LOGGING
    handler = logging_config["handlers"]["console"]
    assert (
        logging_config["formatters"][handler["formatter"]]["class"] == "config.log_format.RedactingFormatter"
    )
    assert logging_config["root"]["handlers"] == ["console"]
    for name in ("uvicorn.access", "uvicorn.error", "django"):
        assert logging_config["loggers"][name]["handlers"] == ["console"], name
        assert logging_config["loggers"][name]["propagate"] is False, name
    formatter = RedactingFormatter("%(name)s %(message)s")
    try:
        raise ValueError(f"cannot use {raw_key} for GET /pulse/v1/stream?model=x&api_key={raw_key}")
    except ValueError:
        import sys

        failure = logging.makeLogRecord(
            {"name": "pulse.stream", "msg": "failed", "exc_info": sys.exc_info(), "levelno": 40}
        )
    lines = [
        formatter.format(
            logging.makeLogRecord(
                {
                    "name": "uvicorn.error",
                    "msg": '%s - "WebSocket %s" [accepted]',
                    "args": ("127.0.0.1:5000", f"/pulse/v1/ws?api_key={raw_key}"),
                }
            )
        ),
        formatter.format(
            logging.makeLogRecord({"msg": "headers: %s", "args": ({"authorization": f"Bearer {raw_key}"},)})
        ),
        formatter.format(failure),
    ]
    lines.append(
        formatter.format(
            logging.makeLogRecord(
                {
                    "name": "django.request",
                    "msg": "Not Found: %s",
                    "args": (f"/invitations/{INVITATION_TOKEN}/",),
                }
            )
        )
    )
    text = "\n".join(lines)
    assert "Not Found: /invitations/[redacted]/" in text and INVITATION_TOKEN not in text
    assert '"WebSocket /pulse/v1/ws" [accepted]' in text
    assert "ValueError" in text  # the traceback is still there...
    assert raw_key not in text and raw_key[4:20] not in text  # ...without the key
