"""The Prisma routes (accelerate/gateway/prisma.py) end to end: uvicorn on loopback, a real executor
sidecar process, a real user database, and the bodies Prisma Client 7.10 really sent
(tests/accelerate/captures). What the real client makes of the answers is in test_prisma_client.py.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from datetime import timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import psycopg
import pytest
from django.utils import timezone

from accelerate import services as accelerate_services
from accelerate.models import AccelerateConfig
from console.audit import Actor
from projects.models import ApiKey
from tests.accelerate.test_executor_sidecar import captured, sidecar_backends, wait_for
from tests.factories import ProjectFactory
from usage.models import UsageCounter

pytestmark = pytest.mark.django_db(transaction=True)

CACHED = {"cache-control": "max-age=60,stale-while-revalidate=30", "accelerate-cache-tags": "users"}
FIND = captured("findMany")  # users whose email contains "x" (the captured session's first read)
CREATE = captured("createOne")  # creates a-x@b.c


def emails(response) -> list[str]:
    return [user["email"] for user in response.json()["data"]]


def sidecar_queries(gateway) -> int:
    """Plans the sidecar ran (not counting the first request's "unknown-executor", before the setup)."""
    return len(
        [
            line
            for line in gateway.sidecar.requests_logged()
            if line["route"] == "query" and line.get("reason") != "unknown-executor"
        ]
    )


def assert_sidecar_ran(gateway, plans: int) -> None:
    """Exactly that many plans ran on the sidecar (it logs each request just after answering it)."""
    wait_for(lambda: sidecar_queries(gateway) >= plans, message=f"fewer than {plans} plans ran")
    time.sleep(0.1)
    assert sidecar_queries(gateway) == plans


def executors_held(gateway) -> list[str]:
    return [entry["id"] for entry in gateway.sidecar.client.get("/executors").json()["executors"]]


def assert_prisma_error(response, status: int, code: str) -> dict:
    """Prisma's error shape: the code in the header and the JSON, a message the client shows."""
    assert response.status_code == status, response.text
    assert response.headers["Prisma-Error-Code"] == code
    body = response.json()
    assert body["code"] == code
    assert body.get("message") or body.get("error")
    return body


# --- The happy path and what withAccelerateInfo() reads ---------------------------------------


def test_connection_info_and_a_query_answer_as_prisma_executor_does_with_accelerate_headers(
    prisma_project, prisma_gateway
):
    info = prisma_project.http.get(
        "/connection-info",
        headers={"Authorization": f"Bearer {prisma_project.key}", "Prisma-Engine-Hash": "7.10.0"},
    )
    assert info.status_code == 200
    assert info.json() == {"provider": "postgres", "connectionInfo": {"supportsRelationJoins": True}}

    answer = prisma_project.post("/query", FIND)
    assert answer.status_code == 200
    assert answer.json() == {
        "data": [
            {
                "id": 1,
                "email": "x1@x.io",
                "name": "X one",
                "createdAt": {"$type": "DateTime", "value": "2026-01-01T00:00:00.000Z"},
            }
        ]
    }
    assert answer.headers["accelerate-cache-status"] == "none"
    assert abs(parsedate_to_datetime(answer.headers["last-modified"]) - timezone.now()) < timedelta(seconds=5)
    # The extension takes info.requestId from the whole cf-ray and info.region from after its "-".
    request_id, region = answer.headers["cf-ray"].split("-")
    assert request_id == answer.headers["X-Request-Id"]
    assert region == "EUWEST1"
    # The key never reaches the sidecar: it authenticates nothing there.
    assert all("Authorization" not in line for line in prisma_gateway.sidecar.log())


def test_prisma_s_own_query_errors_pass_through_with_the_prisma_error_code_header(prisma_project):
    assert prisma_project.post("/query", CREATE).status_code == 200
    duplicate = prisma_project.post("/query", CREATE)
    body = assert_prisma_error(duplicate, 400, "P2002")
    assert body["error"] == "Unique constraint failed on the constraint: `User_email_key`"
    assert body["meta"]["driverAdapterError"]["cause"]["originalCode"] == "23505"


# --- Keys, projects, limits -------------------------------------------------------------------


def test_a_missing_malformed_expired_or_deleted_key_is_p6002(prisma_project):
    from projects import services as project_services

    assert_prisma_error(prisma_project.http.post("/query", content=json.dumps(FIND)), 401, "P6002")
    assert_prisma_error(prisma_project.post("/query", FIND, key="dpk_nonsense"), 401, "P6002")

    actor = Actor.command("test")
    expired, expired_key = project_services.api_key_create(
        project=prisma_project.project, name="expired", actor=actor, expires_in_days=1
    )
    ApiKey.objects.filter(pk=expired.pk).update(expires=timezone.now() - timedelta(minutes=1))
    assert_prisma_error(prisma_project.post("/query", FIND, key=expired_key), 401, "P6002")

    assert prisma_project.post("/query", FIND).status_code == 200
    project_services.api_key_delete(api_key=ApiKey.objects.get(name="prisma test"), actor=actor)
    deleted = wait_for(
        lambda: (answer := prisma_project.post("/query", FIND)).status_code == 401 and answer,
        message="the deleted key still works",
    )
    body = assert_prisma_error(deleted, 401, "P6002")
    assert "malformed, expired or deleted" in body["message"]


def test_a_project_without_accelerate_is_p6001_and_a_disabled_one_p6010(prisma_project, prisma_gateway):
    from projects import services as project_services

    other = ProjectFactory(organization=prisma_project.project.organization)
    _, other_key = project_services.api_key_create(project=other, name="k", actor=Actor.command("test"))
    assert_prisma_error(prisma_project.post("/query", FIND, key=other_key), 400, "P6001")

    config = AccelerateConfig.objects.get(project=prisma_project.project)
    accelerate_services.accelerate_disable(config=config, actor=Actor.command("test"))
    body = assert_prisma_error(prisma_project.post("/query", FIND), 403, "P6010")
    assert "disabled" in body["message"]
    assert_prisma_error(prisma_project.post("/transaction/start", {"timeout": 5000}), 403, "P6010")
    accelerate_services.accelerate_enable(config=config, actor=Actor.command("test"))
    assert prisma_project.post("/query", FIND).status_code == 200


def test_a_key_over_its_rate_limit_gets_p6003_with_retry_after(prisma_project, prisma_gateway):
    from dataplane.limits import TokenBuckets

    prisma_gateway.gateway.limiter = TokenBuckets(rate=1, burst=2, clock=prisma_gateway.clock)
    assert [prisma_project.post("/query", FIND).status_code for _ in range(2)] == [200, 200]
    refused = prisma_project.post("/query", FIND)
    assert_prisma_error(refused, 429, "P6003")
    assert refused.headers["Retry-After"] == "1"
    prisma_gateway.clock.advance(1)
    assert prisma_project.post("/query", FIND).status_code == 200


# --- Bad input ------------------------------------------------------------------------------


def test_unknown_routes_and_methods_get_prisma_shaped_errors(prisma_project):
    wrong_method = prisma_project.http.get("/query")
    assert_prisma_error(wrong_method, 405, "P6005")
    assert wrong_method.headers["Allow"] == "POST"
    unknown = prisma_project.post("/transaction/testnode.abc/explode", {})
    body = assert_prisma_error(unknown, 404, "P6005")
    assert "/transaction/{id}/query|commit|rollback" in body["message"]
    assert_prisma_error(prisma_project.http.delete("/invalidate"), 405, "P6005")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "not a Prisma query plan"),
        ("[1, 2]", "not a Prisma query plan"),
        ({"operation": "findMany", "params": {}}, "not a Prisma query plan"),
        ({"operation": "findMany", "plan": [], "params": {}}, "not a Prisma query plan"),
        ({"operation": 7, "plan": {}, "params": {}}, "not a Prisma query plan"),
    ],
)
def test_a_body_that_is_not_a_plan_is_p6005(prisma_project, body, message):
    answer = assert_prisma_error(prisma_project.post("/query", body), 400, "P6005")
    assert message in answer["message"]


def test_a_plan_over_the_size_limit_is_refused_before_it_is_read_whole(prisma_project, prisma_gateway):
    huge = {**FIND, "params": {"%1": "x" * (300 * 1024)}}
    body = assert_prisma_error(prisma_project.post("/query", huge), 400, "P6005")
    assert "larger than 262,144 bytes" in body["message"]
    assert_sidecar_ran(prisma_gateway, 0)


def test_a_plan_the_executor_cannot_run_is_a_clear_error_not_a_crash(prisma_project):
    broken = {**FIND, "plan": {"type": "no-such-node", "args": {}}}
    body = assert_prisma_error(prisma_project.post("/query", broken), 500, "P6000")
    assert body["message"].startswith("The query executor could not run the query")


# --- Client versions --------------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, "", "banana", "7.10"])
def test_a_request_without_a_client_version_is_told_what_to_send(prisma_project, version):
    body = assert_prisma_error(prisma_project.post("/query", FIND, version=version), 400, "P6005")
    assert "Prisma-Engine-Hash" in body["message"]
    assert "@prisma/client 7" in body["message"]


@pytest.mark.parametrize("version", ["7.9.1", "6.19.3", "8.0.0"])
def test_a_client_version_the_executor_cannot_serve_is_told_which_it_can(
    prisma_project, prisma_gateway, version
):
    body = assert_prisma_error(prisma_project.post("/query", FIND, version=version), 400, "P6005")
    assert f'Prisma Client "{version}" is not supported' in body["message"]
    assert "@prisma/client 7.10.x" in body["message"]
    assert body["meta"]["supportedClientVersions"] == ["7.10.x"]

    # Remembered for a minute: the next request is refused without asking the sidecar again.
    def setups() -> int:
        return len([line for line in prisma_gateway.sidecar.requests_logged() if line["route"] == "setup"])

    wait_for(lambda: setups() == 1, message="the sidecar never logged the refused setup")
    info = prisma_project.http.get(
        "/connection-info",
        headers={"Authorization": f"Bearer {prisma_project.key}", "Prisma-Engine-Hash": version},
    )
    assert_prisma_error(info, 400, "P6005")
    assert_prisma_error(prisma_project.post("/query", FIND, version=version), 400, "P6005")
    time.sleep(0.2)  # what the sidecar would have logged by now
    assert setups() == 1


def test_another_patch_release_of_the_served_line_gets_an_executor_and_a_cache_of_its_own(
    prisma_project, prisma_gateway
):
    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "miss"
    other = prisma_project.post("/query", FIND, version="7.10.1", headers=CACHED)
    assert (other.status_code, other.headers["accelerate-cache-status"]) == (200, "miss")
    assert sorted(executor.rsplit(".v", 1)[1] for executor in executors_held(prisma_gateway)) == [
        "7.10.0",
        "7.10.1",
    ]


# --- The cache ---------------------------------------------------------------------------------


def test_miss_then_ttl_serves_stale_data_then_swr_refreshes_once_then_invalidate(
    prisma_project, prisma_gateway
):
    clock = prisma_gateway.clock
    first = prisma_project.post("/query", FIND, headers=CACHED)
    assert (first.headers["accelerate-cache-status"], emails(first)) == ("miss", ["x1@x.io"])
    assert_sidecar_ran(prisma_gateway, 1)
    prisma_project.sql("""INSERT INTO "User" (email, "createdAt") VALUES ('x2@x.io', now())""")

    clock.advance(59)
    fresh = prisma_project.post("/query", FIND, headers=CACHED)
    assert (fresh.headers["accelerate-cache-status"], emails(fresh)) == ("ttl", ["x1@x.io"])
    assert fresh.headers["last-modified"] == first.headers["last-modified"]
    assert_sidecar_ran(prisma_gateway, 1)

    clock.advance(2)  # 61 s: stale, servable for 30 s more while one refresh runs
    stale = [prisma_project.post("/query", FIND, headers=CACHED) for _ in range(4)]
    assert {(r.headers["accelerate-cache-status"], tuple(emails(r))) for r in stale} <= {
        ("swr", ("x1@x.io",)),
        ("ttl", ("x1@x.io", "x2@x.io")),
    }
    wait_for(lambda: sidecar_queries(prisma_gateway) == 2, message="no background refresh")
    refreshed = prisma_project.post("/query", FIND, headers=CACHED)
    assert (refreshed.headers["accelerate-cache-status"], emails(refreshed)) == (
        "ttl",
        ["x1@x.io", "x2@x.io"],
    )
    assert_sidecar_ran(prisma_gateway, 2)  # four stale answers, one refresh

    prisma_project.sql("""INSERT INTO "User" (email, "createdAt") VALUES ('x3@x.io', now())""")
    invalidated = prisma_project.post("/invalidate", {"tags": ["users"]}, version=None)
    assert invalidated.status_code == 200
    assert invalidated.headers["cf-ray"].startswith(invalidated.headers["X-Request-Id"])
    after = prisma_project.post("/query", FIND, headers=CACHED)
    assert (after.headers["accelerate-cache-status"], emails(after)) == (
        "miss",
        ["x1@x.io", "x2@x.io", "x3@x.io"],
    )

    clock.advance(91)  # past ttl + swr: a miss again
    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "miss"


def test_invalidate_all_and_tags_that_are_not_the_entry_s(prisma_project):
    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "miss"
    assert prisma_project.post("/invalidate", {"tags": ["posts"]}, version=None).status_code == 200
    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "ttl"
    assert prisma_project.post("/invalidate", {"tags": "all"}, version=None).status_code == 200
    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "miss"


@pytest.mark.parametrize(
    "body", [{"tags": []}, {"tags": ["no spaces"]}, {"tags": "everything"}, {"tags": ["a"] * 6}, [], "nope"]
)
def test_bad_invalidations_are_p6005(prisma_project, body):
    assert_prisma_error(prisma_project.post("/invalidate", body, version=None), 400, "P6005")


def test_no_cache_and_an_empty_strategy_run_uncached(prisma_project, prisma_gateway):
    for headers in ({"cache-control": "no-cache"}, {"cache-control": "max-age=0"}, {}):
        answer = prisma_project.post("/query", FIND, headers=headers)
        assert answer.headers["accelerate-cache-status"] == "none"
    assert_sidecar_ran(prisma_gateway, 3)


@pytest.mark.parametrize(
    "headers",
    [
        {"cache-control": "max-age=soon"},
        {"cache-control": "max-age=-1"},
        {"cache-control": "max-age=60", "accelerate-cache-tags": "not a tag"},
        {"cache-control": "max-age=60", "accelerate-cache-tags": "a,b,c,d,e,f"},
    ],
)
def test_a_bad_cache_strategy_is_p6005(prisma_project, headers):
    assert_prisma_error(prisma_project.post("/query", FIND, headers=headers), 400, "P6005")


def test_cache_entries_belong_to_one_project(prisma_project, prisma_gateway, database_url):
    from projects import services as project_services

    assert prisma_project.post("/query", FIND, headers=CACHED).headers["accelerate-cache-status"] == "miss"
    other = ProjectFactory(organization=prisma_project.project.organization)
    name = psycopg.conninfo.conninfo_to_dict(prisma_project.conninfo)["dbname"]
    accelerate_services.accelerate_create(
        project=other,
        actor=Actor.command("test"),
        connection_string=database_url(database=name),
        region="eu-west-1",
    )
    _, other_key = project_services.api_key_create(project=other, name="k", actor=Actor.command("test"))
    answer = prisma_project.post("/query", FIND, key=other_key, headers=CACHED)
    assert answer.headers["accelerate-cache-status"] == "miss"


def test_a_write_sent_with_max_age_runs_uncached(prisma_project, prisma_gateway):
    created = prisma_project.post("/query", CREATE, headers=CACHED)
    assert (created.status_code, created.headers["accelerate-cache-status"]) == (200, "none")
    # Sent again, it runs again (on the database, which refuses the duplicate): nothing was cached.
    assert_prisma_error(prisma_project.post("/query", CREATE, headers=CACHED), 400, "P2002")
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(1,)]


def test_a_plan_that_writes_sent_as_a_cached_read_is_refused_by_the_database_and_not_cached(
    prisma_project, prisma_gateway
):
    forged = {**CREATE, "operation": "findMany"}
    body = assert_prisma_error(prisma_project.post("/query", forged, headers=CACHED), 400, "P6005")
    assert "tried to write" in body["message"]
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(0,)]
    wait_for(lambda: prisma_gateway.sidecar.requests_logged()[-1].get("reason") == "read-only-violation")
    # Not cached either: asked again, it runs (and is refused) again.
    assert_prisma_error(prisma_project.post("/query", forged, headers=CACHED), 400, "P6005")
    assert_sidecar_ran(prisma_gateway, 2)
    # The connections serve writes again when asked without the read-only header.
    assert prisma_project.post("/query", CREATE).status_code == 200


# --- Transactions ------------------------------------------------------------------------------


def start(prisma_project, **options) -> str:
    started = prisma_project.post("/transaction/start", {"maxWait": 2000, "timeout": 5000, **options})
    assert started.status_code == 200, started.text
    transaction = started.json()["id"]
    assert started.headers["Prisma-Transaction-Id"] == transaction
    return transaction


def test_an_interactive_transaction_commits_and_is_then_unknown(prisma_project):
    transaction = start(prisma_project)
    assert re.fullmatch(r"testnode\.[0-9a-f-]{36}", transaction)
    inside = prisma_project.post(f"/transaction/{transaction}/query", CREATE)
    assert inside.status_code == 200
    assert inside.headers["accelerate-cache-status"] == "none"
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(0,)]
    committed = prisma_project.post(f"/transaction/{transaction}/commit")
    assert (committed.status_code, committed.json()) == (200, {})
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(1,)]
    assert_prisma_error(prisma_project.post(f"/transaction/{transaction}/commit"), 409, "P2028")
    assert_prisma_error(prisma_project.post(f"/transaction/{transaction}/query", FIND), 409, "P2028")


def test_a_rolled_back_transaction_leaves_nothing(prisma_project):
    transaction = start(prisma_project)
    assert prisma_project.post(f"/transaction/{transaction}/query", CREATE).status_code == 200
    assert prisma_project.post(f"/transaction/{transaction}/rollback").json() == {}
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(0,)]


@pytest.mark.parametrize(
    "transaction",
    [
        "testnode.00000000-0000-4000-8000-000000000000",
        "no-dot-here",
        "testnode.",
        "testnode...",
        "othernode.abc",
    ],
)
def test_an_unknown_or_foreign_transaction_id_is_p2028(prisma_project, transaction):
    body = assert_prisma_error(prisma_project.post(f"/transaction/{transaction}/query", FIND), 409, "P2028")
    if transaction.startswith("othernode"):
        assert "started on the Accelerate node 'othernode'" in body["error"]


def test_a_transaction_that_outlives_its_timeout_is_rolled_back(prisma_project):
    transaction = start(prisma_project, timeout=300)
    assert prisma_project.post(f"/transaction/{transaction}/query", CREATE).status_code == 200
    time.sleep(0.6)
    body = assert_prisma_error(prisma_project.post(f"/transaction/{transaction}/query", FIND), 409, "P2028")
    assert "expired" in body["error"] or "timeout" in body["error"].lower()
    assert prisma_project.sql("""SELECT count(*) FROM "User" WHERE email = 'a-x@b.c'""") == [(0,)]


def test_the_transaction_options_are_checked(prisma_project):
    assert_prisma_error(prisma_project.post("/transaction/start", {"timeout": "soon"}), 400, "P6005")
    assert_prisma_error(prisma_project.post("/transaction/start", "{oops"), 400, "P6005")


# --- Limits the executor applies -----------------------------------------------------------------


def test_a_query_over_the_query_timeout_is_p6004_and_cancelled_on_the_database(
    prisma_project, prisma_gateway
):
    config = AccelerateConfig.objects.get(project=prisma_project.project)
    accelerate_services.accelerate_update(
        config=config,
        actor=Actor.command("test"),
        connection_string=None,
        region=config.region,
        connection_limit=config.connection_limit,
        pool_timeout_seconds=config.pool_timeout_seconds,
        query_timeout_seconds=1,
    )
    with psycopg.connect(prisma_project.conninfo) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        body = assert_prisma_error(prisma_project.post("/query", FIND), 504, "P6004")
        assert time.monotonic() - started < 4
        assert "timeout" in body["message"].lower()
        wait_for(
            lambda: sidecar_backends(prisma_project.conninfo, state="active") == [],
            message="the timed-out query still runs on the database",
        )


def test_a_client_that_disconnects_mid_query_has_its_query_cancelled_on_the_database(
    prisma_project, prisma_gateway
):
    body = json.dumps(FIND).encode()
    host, port = urlsplit(prisma_gateway.url).netloc.split(":")
    with psycopg.connect(prisma_project.conninfo) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        client = socket.create_connection((host, int(port)))
        client.sendall(
            b"POST /query HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {prisma_project.key}\r\nPrisma-Engine-Hash: 7.10.0\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_for(
            lambda: any(
                wait == "Lock" for _, wait, _ in sidecar_backends(prisma_project.conninfo, state="active")
            ),
            message="the query never reached the database",
        )
        client.close()
        wait_for(
            lambda: sidecar_backends(prisma_project.conninfo, state="active") == [],
            message="the abandoned query still runs on the database",
        )
    wait_for(lambda: prisma_gateway.sidecar.requests_logged()[-1].get("reason") == "client-gone")


# --- The sidecar dies, comes back; configurations change ---------------------------------------------


def test_a_dead_sidecar_is_a_clear_p6000_at_once_and_the_gateway_recovers_when_it_is_back(
    prisma_project, prisma_gateway
):
    assert prisma_project.post("/query", FIND).status_code == 200
    prisma_gateway.sidecar.stop(signal.SIGKILL)
    started = time.monotonic()
    down = prisma_project.post("/query", FIND)
    assert time.monotonic() - started < 1
    body = assert_prisma_error(down, 500, "P6000")
    assert "query executor is not available" in body["message"]
    assert_prisma_error(prisma_project.post("/transaction/start", {}), 500, "P6000")

    prisma_gateway.restart_sidecar()  # as make run's supervisor or the service manager does
    assert executors_held(prisma_gateway) == []
    back = prisma_project.post("/query", FIND)
    assert back.status_code == 200
    assert emails(back) == ["x1@x.io"]
    assert len(executors_held(prisma_gateway)) == 1  # set up again by the gateway, by itself


def test_a_changed_configuration_gets_a_new_executor_and_disabling_closes_it(prisma_project, prisma_gateway):
    assert prisma_project.post("/query", FIND).status_code == 200
    [first] = executors_held(prisma_gateway)
    config = AccelerateConfig.objects.get(project=prisma_project.project)
    accelerate_services.accelerate_update(
        config=config,
        actor=Actor.command("test"),
        connection_string=None,
        region=config.region,
        connection_limit=3,
        pool_timeout_seconds=config.pool_timeout_seconds,
        query_timeout_seconds=config.query_timeout_seconds,
    )
    assert prisma_project.post("/query", FIND).status_code == 200
    wait_for(lambda: len(executors_held(prisma_gateway)) == 1 and executors_held(prisma_gateway) != [first])
    [second] = executors_held(prisma_gateway)
    assert second.split(".")[0] == first.split(".")[0]  # the same project, another configuration version
    assert prisma_gateway.sidecar.client.get("/executors").json()["executors"][0]["pool"]["total"] <= 3

    accelerate_services.accelerate_disable(
        config=AccelerateConfig.objects.get(project=prisma_project.project), actor=Actor.command("test")
    )
    wait_for(
        lambda: executors_held(prisma_gateway) == [],
        timeout=15,
        message="the disabled project's executor stayed",
    )
    wait_for(lambda: sidecar_backends(prisma_project.conninfo) == [], message="its connections stayed open")


# --- Metering and logs ------------------------------------------------------------------------------


def test_queries_hits_misses_egress_and_errors_are_metered_per_project(prisma_project, prisma_gateway):
    answers = [
        prisma_project.post("/query", FIND, headers=CACHED),  # miss
        prisma_project.post("/query", FIND, headers=CACHED),  # ttl
        prisma_project.post("/query", FIND),  # none
        prisma_project.post("/query", CREATE),  # a write
        prisma_project.post("/query", CREATE),  # P2002: an error
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 400]
    prisma_gateway.gateway.meter.flush()
    counts: dict[str, int] = {}
    for row in UsageCounter.objects.filter(project_id=prisma_project.project.pk, product="accelerate"):
        counts[row.metric] = counts.get(row.metric, 0) + row.value
    assert counts == {
        "queries": 5,
        "cache_misses": 1,
        "cache_hits_ttl": 1,
        "errors": 1,
        "egress_bytes": sum(len(answer.content) for answer in answers[:4]),
    }


def test_one_log_line_per_request_never_a_parameter_or_a_key(prisma_project, caplog):
    marked = {**FIND, "params": {"%1": "param-marker-51c2"}}
    with caplog.at_level("INFO", logger="accelerate.gateway"):
        prisma_project.post("/query", marked, headers=CACHED)
        prisma_project.post("/query", marked, headers=CACHED)
        prisma_project.post("/query", CREATE)
        prisma_project.post("/query", FIND, key="dpk_wrong")
    lines = [record.getMessage() for record in caplog.records if "request_id=" in record.getMessage()]
    assert len(lines) == 4
    project = str(prisma_project.project.pk)
    assert f"project={project}" in lines[0] and "operation=findMany" in lines[0] and "cache=miss" in lines[0]
    assert "cache=ttl" in lines[1]
    assert "operation=createOne" in lines[2] and "status=200" in lines[2]
    assert "status=401" in lines[3]
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "param-marker-51c2" not in text
    assert prisma_project.key not in text and "dpk_wrong" not in text
    assert "a-x@b.c" not in text
