"""A revoked key stops working within a second in *another* process (a real one, sharing Redis)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import connection

from console.audit import Actor
from projects.services import api_key_create, api_key_delete

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
