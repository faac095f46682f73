"""A revoked key stops working within a second in *another* process: deleted here and checked by a
real child process sharing Redis; deleted by `manage.py deleteapikey` and checked here, with nothing
shared but the database (the default local-memory cache)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection

from console.audit import Actor
from projects.services import api_key_authenticate, api_key_create, api_key_delete

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 11  # apart from anything else on the machine's Redis; keys are prefixed per test too

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import django
    django.setup()
    from django.conf import settings
    settings.CACHES = json.loads(os.environ["TEST_CACHES"])
    from django.db import connection
    from projects.services import api_key_authenticate

    raw_key = sys.stdin.readline().strip()
    assert api_key_authenticate(raw_key) is not None
    print("ready", flush=True)
    queries, calls, deadline = [], 0, time.monotonic() + 10
    with connection.execute_wrapper(lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)):
        while time.monotonic() < deadline:
            calls += 1
            if api_key_authenticate(raw_key) is None:
                print(f"refused {time.monotonic()} {calls} {len(queries)}", flush=True)
                break
            time.sleep(0.005)
        else:
            print("still accepted", flush=True)
    """
)


def redis_is_up() -> bool:
    try:
        socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def shared_cache(settings):
    if not redis_is_up():
        message = f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}; this test needs a real shared cache."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    settings.CACHES = caches
    return caches


def test_a_deleted_key_is_refused_by_another_process_within_a_second(project, shared_cache):
    api_key, raw_key = api_key_create(project=project, name="Prod", actor=Actor.command("test"))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "TEST_CACHES": json.dumps(shared_cache),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=django_settings.BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(raw_key + "\n")
        child.stdin.close()
        assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(0.3)  # let the other process serve the key from its warm cache for a while
        deleted_at = time.monotonic()
        api_key_delete(api_key=api_key, actor=Actor.command("test"))
        out = child.stdout.read()  # the child gives up after ten seconds
        err = child.stderr.read() if child.stderr else ""
    finally:
        child.kill()
        child.wait()
    verdict, refused_at, calls, queries = out.split()
    assert verdict == "refused", err
    # CLOCK_MONOTONIC is one clock for every process on the machine.
    assert float(refused_at) - deleted_at < 1.0
    # The other process really answered from its cache: far fewer queries than calls.
    assert int(queries) <= 2 < int(calls)


def test_deleteapikey_in_another_process_is_refused_here_within_a_second_without_a_shared_cache(project):
    """The operator's command runs in its own process; this one serves the key from its warm,
    local-memory cache. Nothing is shared but the console database."""
    from django.conf import settings as current
    from django.db import connections

    assert current.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    api_key, raw_key = api_key_create(
        project=project, name="Operator deletes me", actor=Actor.command("test")
    )
    refused_at: list[float] = []
    served = [0]
    stop = threading.Event()

    def serve() -> None:
        try:
            while not stop.is_set():
                if api_key_authenticate(raw_key) is None:
                    refused_at.append(time.monotonic())
                    return
                served[0] += 1
                time.sleep(0.005)
        finally:
            connections.close_all()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_URL", "CACHE_URL"}},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": "test-" + uuid.uuid4().hex * 2,
        "SECRET_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "deleteapikey", str(project.pk), api_key.masked],
            cwd=django_settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        finished = time.monotonic()
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Deleted the API key" in result.stdout
        server.join(5)
    finally:
        stop.set()
        server.join(5)
    assert served[0] > 10  # it was serving the key (from its cache) while the command ran
    assert refused_at, "the key was still accepted 5 s after the command finished"
    # The deletion committed before the command exited: refused within a second of that at most.
    assert refused_at[0] - finished < 1.0
