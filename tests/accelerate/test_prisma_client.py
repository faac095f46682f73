"""Issue 15's compatibility suite: the real, pinned Prisma Client 7.10 with @prisma/extension-accelerate
against the gateway as `make run` starts it — `uvicorn config.asgi:application` processes and the
executor sidecar process — compared with the same client straight on PostgreSQL (adapter-pg).

The projects are configured through the services, in the test database that the web processes
read. Under CI=true a missing Node.js is a failure, not a skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from accelerate import services as accelerate_services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from projects import services as project_services
from tests.accelerate.console_processes import SidecarProcess, WebProcess, console_env
from tests.accelerate.executor_sidecar import PRISMA_DIR, require_node_tools
from tests.accelerate.test_executor_sidecar import run_compat, run_sql, seed, unexpected_outcomes, url_of
from tests.factories import MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Console:
    sidecar: SidecarProcess
    web: WebProcess  # the one a client is given
    second_web: WebProcess  # another process on the same machine (same sidecar)


@pytest.fixture(scope="module")
def console(django_db_setup, django_db_blocker) -> Iterator[Console]:
    """One sidecar and two web processes, as `make run` starts them, for the whole module."""
    require_node_tools()
    folder = Path(tempfile.mkdtemp(prefix="dpc-console-", dir="/tmp"))
    socket_path = folder / "executor.sock"
    with django_db_blocker.unblock():
        env = console_env(socket_path=socket_path)
    started: list[SidecarProcess | WebProcess] = []
    try:
        sidecar = SidecarProcess(socket_path, env=env).start()
        started.append(sidecar)
        web = WebProcess(env=env, log_dir=folder).start()
        started.append(web)
        second = WebProcess(env=env, log_dir=folder).start()
        started.append(second)
        yield Console(sidecar, web, second)
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Project:
    project: Any
    key: str
    database: str  # conninfo of the user's database
    url: str  # postgresql:// URL of it, for the direct client

    def reconfigure(self, **limits: int) -> None:
        config = AccelerateConfig.objects.get(project=self.project)
        accelerate_services.accelerate_update(
            config=config,
            actor=Actor.command("test"),
            connection_string=None,
            region=config.region,
            connection_limit=limits.get("connection_limit", config.connection_limit),
            pool_timeout_seconds=limits.get("pool_timeout_seconds", config.pool_timeout_seconds),
            query_timeout_seconds=limits.get("query_timeout_seconds", config.query_timeout_seconds),
        )


@pytest.fixture
def project(console, source_database, database_url) -> Project:
    """A project with Accelerate on a fresh database holding tests/prisma/schema.sql, and a key."""
    run_sql(source_database, (PRISMA_DIR / "schema.sql").read_text())
    membership = MembershipFactory()
    project = ProjectFactory(organization=membership.organization)
    actor = Actor.command("test")
    name = psycopg.conninfo.conninfo_to_dict(source_database)["dbname"]
    accelerate_services.accelerate_create(
        project=project,
        actor=actor,
        connection_string=database_url(database=name),
        region="eu-west-1",
        connection_limit=5,
        pool_timeout_seconds=5,
        query_timeout_seconds=10,
    )
    _, key = project_services.api_key_create(project=project, name="prisma", actor=actor)
    return Project(project, key, source_database, url_of(source_database))


def scenario(name: str, accelerate_url: str, *args: str) -> list[dict[str, Any]]:
    """tests/prisma/accelerate-scenarios.mjs: one parsed line per step."""
    result = subprocess.run(
        ["node", "accelerate-scenarios.mjs", "--scenario", name, "--accelerate-url", accelerate_url, *args],
        cwd=PRISMA_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def steps(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["step"]: line for line in lines}


def test_the_prisma_client_through_the_gateway_gets_what_it_gets_straight_from_postgresql(console, project):
    seed(project.database)
    direct = run_compat("--target", "direct", "--database-url", project.url)
    assert len(direct) >= 30
    assert unexpected_outcomes(direct) == []

    seed(project.database)
    through = run_compat(
        "--target", "accelerate", "--accelerate-url", console.web.accelerate_url(project.key)
    )
    assert [line["name"] for line in through] == [line["name"] for line in direct]
    for expected, actual in zip(direct, through, strict=True):
        assert actual == expected, expected["name"]
    # Every plan went through the gateway to the sidecar: a logged request per query at least.
    gateway_queries = console.web.log().count(f"project={project.project.pk}")
    assert gateway_queries >= len(direct)


def test_cache_strategy_miss_ttl_invalidate_and_swr_with_the_real_client(console, project):
    seed(project.database)
    url = console.web.accelerate_url(project.key)
    cache = steps(scenario("cache", url, "--database-url", project.url))
    statuses = {
        step: (line["info"]["cacheStatus"], line["data"]["name"])
        for step, line in cache.items()
        if "info" in line
    }
    assert statuses == {
        "first read": ("miss", "Ada"),
        "read within the ttl": ("ttl", "Ada"),  # stale: the write behind the cache is not seen
        "read after invalidate": ("miss", "Changed behind the cache"),
        "read again": ("ttl", "Changed behind the cache"),
        "read after invalidate all": ("miss", "Changed behind the cache"),
    }
    assert cache["invalidate the tag"]["ok"] and cache["invalidate all"]["ok"]
    first, cached = cache["first read"]["info"], cache["read within the ttl"]["info"]
    assert first["region"] == "EUWEST1"
    assert first["requestId"].startswith("req_") and first["requestId"].endswith("-EUWEST1")
    assert first["requestId"] != cached["requestId"]
    assert cached["lastModified"] == first["lastModified"]  # when the served result was read
    assert abs(time.time() - datetime.fromisoformat(first["lastModified"]).timestamp()) < 60

    swr = steps(scenario("swr", url, "--database-url", project.url))
    assert (swr["first read"]["info"]["cacheStatus"], swr["first read"]["data"]) == (
        "miss",
        {"name": "Grace"},
    )
    assert (swr["read after the ttl"]["info"]["cacheStatus"], swr["read after the ttl"]["data"]) == (
        "swr",
        {"name": "Grace"},
    )
    assert (swr["read once refreshed"]["info"]["cacheStatus"], swr["read once refreshed"]["data"]) == (
        "ttl",
        {"name": "Refreshed"},
    )


def test_a_bad_key_a_disabled_project_and_a_query_timeout_reach_the_client_with_their_codes(console, project):
    seed(project.database)
    [bad] = scenario("find", console.web.accelerate_url("dpk_not_a_key"))
    assert (bad["ok"], bad["error"]["code"], bad["error"]["name"]) == (
        False,
        "P6002",
        "PrismaClientKnownRequestError",
    )
    assert "The API key is not valid" in bad["error"]["message"]

    url = console.web.accelerate_url(project.key)
    [ok] = scenario("find", url)
    assert ok["ok"] and len(ok["data"]) == 5

    config = AccelerateConfig.objects.get(project=project.project)
    accelerate_services.accelerate_disable(config=config, actor=Actor.command("test"))
    time.sleep(1.1)  # each process trusts what it read of a configuration for a second
    [disabled] = scenario("find", url)
    assert (disabled["ok"], disabled["error"]["code"]) == (False, "P6010")
    assert "disabled" in disabled["error"]["message"]
    accelerate_services.accelerate_enable(config=config, actor=Actor.command("test"))

    project.reconfigure(query_timeout_seconds=1)
    time.sleep(1.1)
    with psycopg.connect(project.database) as blocker:
        blocker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        [slow] = scenario("find", url)
        assert time.monotonic() - started < 10
    assert (slow["ok"], slow["error"]["code"]) == (False, "P6004")
    [after] = scenario("find", url)
    assert after["ok"]


def test_an_interactive_transaction_started_through_one_web_process_continues_through_another(
    console, project
):
    seed(project.database)
    lines = steps(
        scenario(
            "two-gateways",
            console.web.accelerate_url(project.key),
            "--second-url",
            console.second_web.accelerate_url(project.key),
        )
    )
    assert lines["committed across two processes"] == {
        "step": "committed across two processes",
        "ok": True,
        "data": 1,
    }
    assert lines["rolled back across two processes"]["data"] == "abort on purpose"
    assert lines["batch across two processes"]["data"] == [{"name": "two-gateways"}, 1]
    seen = lines["requests"]["data"]
    assert set(seen["first"]) == {"/transaction/start"} and len(seen["first"]) == 3
    assert {"/transaction/ID/query", "/transaction/ID/commit", "/transaction/ID/rollback"} <= set(
        seen["second"]
    )
    assert run_sql(
        project.database,
        "SELECT email FROM users WHERE email IN ('two@example.com', 'rolled-back@example.com')",
    ) == [("two@example.com",)]
    assert f"project={project.project.pk}" in console.second_web.log()
