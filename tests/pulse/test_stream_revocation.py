"""Open streams end within a second of their access going: the key deleted (here, or by
`manage.py deleteapikey` in another process), expired, or the project's Pulse disabled. The
stream's last frame says why (an ``end`` event), and the Python client raises it."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from console.audit import Actor
from projects.models import ApiKey
from projects.services import api_key_create, api_key_delete
from pulse.client import PulseStreamEnded, stream
from pulse.services import pulse_disable
from pulse.stream.app import ACCESS_CHECK_SECONDS, lease_key
from tests.pulse.conftest import Live, RawStream
from tests.pulse.test_stream import ack

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor.command("test")


def open_live_stream(live: Live, key: str, **query: str) -> RawStream:
    """A stream that has delivered one event (so it is open and live, not just accepted)."""
    raw = RawStream(live.url, key, model="orders", **query)
    assert raw.response.status == 200
    assert raw.frame() == {"comment": "connected"}
    live.insert(int(time.monotonic() * 1000) % 1_000_000_000)
    assert raw.event()["event"] == "create"
    return raw


def read_to_the_end(
    raw: RawStream, timeout: float = 5.0
) -> tuple[dict[str, str], float, list[dict[str, str]]]:
    """Frames until the ``end`` event: it, when it came, and what came before it (heartbeats come
    every half second, so the deadline is checked at least that often)."""
    before: list[dict[str, str]] = []
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, f"no end event within {timeout} s; got {before[-5:]}"
        frame = raw.frame()
        if "event" in frame and frame["event"] == "end":
            return frame, time.monotonic(), before
        before.append(frame)


def assert_closed_after(raw: RawStream) -> None:
    """Nothing follows the end event: the response is complete (chunked terminator, EOF)."""
    assert raw.response.readline() == b""
    raw.close()


def test_deleting_the_key_ends_its_open_stream_within_a_second_with_an_end_event(live, stream_server):
    raw = open_live_stream(live, live.key, name="billing")
    api_key = ApiKey.objects.get(project=live.project)
    deleted_at = time.monotonic()
    api_key_delete(api_key=api_key, actor=ACTOR)
    frame, ended_at, before = read_to_the_end(raw)
    assert ended_at - deleted_at < 1.0
    assert all("data" not in f for f in before)  # heartbeats at most
    assert "id" not in frame  # Last-Event-ID stays on the last change received
    error = json.loads(frame["data"])["error"]
    assert error["code"] == "P6002"
    assert "deleted or has expired" in error["message"]
    assert error["requestId"].startswith("req_")
    assert_closed_after(raw)
    assert stream_server.service.open_connections == 0
    assert cache.get(lease_key(live.project.pk, "billing")) is None  # the name is free again


def test_only_the_streams_of_the_revoked_key_end(live, stream_server):
    _, other_key = api_key_create(project=live.project, name="still valid", actor=ACTOR)
    revoked = open_live_stream(live, live.key)
    kept = open_live_stream(live, other_key)
    api_key_delete(api_key=ApiKey.objects.get(project=live.project, name="stream test"), actor=ACTOR)
    frame, _, _ = read_to_the_end(revoked)
    assert frame["event"] == "end"
    time.sleep(2 * ACCESS_CHECK_SECONDS)  # several checks later...
    live.insert(777_777)
    assert kept.event()["data"]["created"]["id"] == 777_777  # ...the other key's stream still delivers
    kept.close()


def test_a_key_that_expires_ends_its_open_stream_within_a_second_of_expiring(live):
    raw = open_live_stream(live, live.key)
    expires = timezone.now() + timedelta(seconds=1.5)
    ApiKey.objects.filter(project=live.project).update(expires=expires)
    frame, ended_at, _ = read_to_the_end(raw)
    assert json.loads(frame["data"])["error"]["code"] == "P6002"
    lateness = timezone.now() - expires - timedelta(seconds=time.monotonic() - ended_at)
    assert timedelta(0) <= lateness < timedelta(seconds=1)
    assert_closed_after(raw)


def test_disabling_pulse_ends_the_projects_open_streams_within_a_second_with_p6010(live):
    raw = open_live_stream(live, live.key)
    disabled_at = time.monotonic()
    pulse_disable(project=live.project, actor=ACTOR)
    done = time.monotonic()
    frame, ended_at, _ = read_to_the_end(raw)
    error = json.loads(frame["data"])["error"]
    assert error["code"] == "P6010"
    assert "Pulse was disabled" in error["message"]
    # Within a second of the change committing (dropping the slot took part of the call).
    assert ended_at - done < 1.0, (ended_at - disabled_at, done - disabled_at)
    assert_closed_after(raw)


def test_deleteapikey_in_another_process_ends_the_open_stream_within_a_second(live):
    """The operator's command, with nothing shared but the console database (local-memory cache)."""
    raw = open_live_stream(live, live.key)
    api_key = ApiKey.objects.get(project=live.project)
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "CACHE_URL"}},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "deleteapikey", str(live.project.pk), api_key.masked],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    finished = time.monotonic()
    assert result.returncode == 0, result.stdout + result.stderr
    frame, ended_at, _ = read_to_the_end(raw)
    assert frame["event"] == "end"
    assert ended_at - finished < 1.0
    assert_closed_after(raw)


def next_within(iterator: Iterator[Any], seconds: float) -> Any:
    """next(iterator), or a failure after ``seconds`` (a stream blocks on heartbeats forever)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(next, iterator)
        try:
            return future.result(seconds)
        except concurrent.futures.TimeoutError:
            raise AssertionError(f"nothing came within {seconds} s") from None


def test_the_python_client_raises_a_clear_error_and_does_not_reconnect(live, stream_server):
    ack(live, "worker", 0)  # the name exists from the start: nothing the test inserts is before it
    changes = stream("orders", name="worker", url=live.url, api_key=live.key, ack_interval=0)
    with pytest.raises(PulseStreamEnded) as ended, changes:
        live.insert(1)
        first = next_within(changes, 10)
        assert first.created == {"id": 1, "note": None}
        api_key_delete(api_key=ApiKey.objects.get(project=live.project), actor=ACTOR)
        time.sleep(1.0)  # revoked a second ago: a change made now must not reach this stream
        live.insert(2)
        next_within(changes, 5)
    assert (ended.value.status, ended.value.code) == (401, "P6002")
    assert "deleted or has expired" in str(ended.value)
    assert ended.value.details["requestId"].startswith("req_")
    assert changes.ended is ended.value
    # It did not reconnect (a network error would have): no stream is open on the server.
    assert stream_server.service.open_connections == 0
