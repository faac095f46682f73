"""The gateway end to end: a real uvicorn server, a real user database, the Python client."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import threading
import time
import uuid

import psycopg
import pytest

from accelerate import services as accelerate_services
from accelerate.client import AccelerateClient, AccelerateError
from accelerate.gateway import query as gateway_query
from accelerate.models import AccelerateConfig
from console.audit import Actor
from projects import services as project_services
from projects.models import ApiKey
from tests.factories import ProjectFactory
from usage.models import UsageCounter

pytestmark = pytest.mark.django_db(transaction=True)

CACHED = {"ttl": 60, "swr": 30, "tags": ["items"]}


def post(server, path: str, body: bytes | str, key: str | None = None, headers: dict | None = None):
    """A raw request, for what the client library would never send."""
    host, port = server.url.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", path, body=body, headers=all_headers)
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    return response.status, payload


def error_code(call) -> str:
    with pytest.raises(AccelerateError) as caught:
        call()
    return caught.value.code


def test_a_query_answers_the_documented_shape(items, gateway_server):
    result = items.client.query("SELECT id, name, price, tags FROM items WHERE id <= $1 ORDER BY id", [2])
    assert result.columns == ["id", "name", "price", "tags"]
    assert result.rows == [[1, "one", "1.50", ["a"]], [2, "two", "2.25", None]]
    assert result.row_count == 2
    assert result.cache_status == "none"
    assert result.region == "test-region"
    assert result.request_id.startswith("req_")
    assert result.last_modified.endswith("Z")


def test_the_api_key_query_parameter_works_too(items, gateway_server):
    status, payload = post(
        gateway_server, f"/accelerate/v1/query?api_key={items.key}", '{"query": "SELECT 1 AS one"}'
    )
    assert status == 200 and payload["rows"] == [[1]]


def test_writes_run_and_report_affected_rows(items):
    result = items.client.query("UPDATE items SET name = upper(name) WHERE id = $1", [1])
    assert result.columns == [] and result.rows == [] and result.row_count == 1
    assert items.sql("SELECT name FROM items WHERE id = 1") == [("ONE",)]


def test_object_parameters_are_sent_as_jsonb(items):
    result = items.client.query("SELECT $1::jsonb -> 'a' AS a", [{"a": [1, 2]}])
    assert result.rows == [[[1, 2]]]


def test_ttl_then_swr_with_one_background_refresh_then_miss(items, gateway_server, monkeypatch):
    runs = []
    real_execute = gateway_query.execute

    async def counting_execute(*args, **kwargs):
        runs.append(kwargs.get("read_only"))
        if len(runs) == 2:
            await asyncio.sleep(0.5)  # a slow refresh: every stale request meanwhile must not start another
        return await real_execute(*args, **kwargs)

    monkeypatch.setattr(gateway_query, "execute", counting_execute)
    sql = "SELECT name FROM items WHERE id = $1"

    first = items.client.query(sql, [1], cache_strategy=CACHED)
    assert (first.cache_status, first.rows, len(runs)) == ("miss", [["one"]], 1)
    items.sql("UPDATE items SET name = 'uno' WHERE id = 1")

    gateway_server.clock.advance(59)
    fresh = items.client.query(sql, [1], cache_strategy=CACHED)
    assert (fresh.cache_status, fresh.rows, len(runs)) == ("ttl", [["one"]], 1)
    assert fresh.last_modified == first.last_modified

    gateway_server.clock.advance(2)  # 61 s: stale, still servable for 30 s more
    stale = [items.client.query(sql, [1], cache_strategy=CACHED) for _ in range(5)]
    assert [(r.cache_status, r.rows) for r in stale] == [("swr", [["one"]])] * 5
    time.sleep(0.7)  # the refresh (0.5 s) has finished
    assert len(runs) == 2  # five stale answers, one refresh

    refreshed = items.client.query(sql, [1], cache_strategy=CACHED)
    assert (refreshed.cache_status, refreshed.rows) == ("ttl", [["uno"]])

    gateway_server.clock.advance(91)
    expired = items.client.query(sql, [1], cache_strategy=CACHED)
    assert (expired.cache_status, len(runs)) == ("miss", 3)


def test_cache_keys_cover_the_parameters(items):
    sql = "SELECT name FROM items WHERE id = $1"
    assert items.client.query(sql, [1], cache_strategy=CACHED).rows == [["one"]]
    assert items.client.query(sql, [2], cache_strategy=CACHED).rows == [["two"]]
    assert items.client.query(sql, [2], cache_strategy=CACHED).cache_status == "ttl"


def test_invalidate_by_tag_and_everything(items):
    tagged = "SELECT count(*) AS n FROM items"
    other = "SELECT max(id) AS m FROM items"
    items.client.query(tagged, cache_strategy=CACHED)
    items.client.query(other, cache_strategy={"ttl": 60, "tags": ["other"]})
    items.sql("INSERT INTO items VALUES (3, 'three', 3, NULL)")

    items.client.invalidate(["items"])
    assert items.client.query(tagged, cache_strategy=CACHED).rows == [["3"]]  # count is int8: a string
    again = items.client.query(other, cache_strategy={"ttl": 60, "tags": ["other"]})
    assert (again.cache_status, again.rows) == ("ttl", [[2]])

    items.client.invalidate_all()
    assert items.client.query(other, cache_strategy={"ttl": 60, "tags": ["other"]}).rows == [[3]]


def test_concurrent_misses_run_the_query_once(items, monkeypatch):
    runs = []
    real_execute = gateway_query.execute

    async def counting_execute(*args, **kwargs):
        runs.append(1)
        return await real_execute(*args, **kwargs)

    monkeypatch.setattr(gateway_query, "execute", counting_execute)
    results: list[str] = []

    def ask() -> None:
        with AccelerateClient(
            f"prisma://{items.client.host}:{items.client.port}/?api_key={items.key}"
        ) as client:
            results.append(
                client.query("SELECT pg_sleep(0.3), 1 AS x", cache_strategy={"ttl": 60}).cache_status
            )

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["miss"] * 8
    assert len(runs) == 1


def test_two_projects_running_the_same_sql_never_share_a_result(
    items, gateway_server, database_url, source_database
):
    other = ProjectFactory(organization=items.project.organization)
    name = psycopg.conninfo.conninfo_to_dict(source_database)["dbname"]
    actor = Actor.command("test")
    # The second project reads another database that has a differently filled table of the same name.
    with psycopg.connect(database_url(database="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}_b"')
    try:
        with psycopg.connect(database_url(database=f"{name}_b"), autocommit=True) as conn:
            conn.execute("CREATE TABLE items (id int, name text); INSERT INTO items VALUES (1, 'other')")
        accelerate_services.accelerate_create(
            project=other,
            actor=actor,
            connection_string=database_url(database=f"{name}_b"),
            region="eu-west-1",
        )
        _, other_key = project_services.api_key_create(project=other, name="other", actor=actor)
        sql = "SELECT name FROM items WHERE id = 1"
        assert items.client.query(sql, cache_strategy=CACHED).rows == [["one"]]
        with AccelerateClient(f"prisma://{gateway_server.url}/?api_key={other_key}") as client:
            answer = client.query(sql, cache_strategy=CACHED)
        assert (answer.cache_status, answer.rows) == ("miss", [["other"]])
    finally:
        gateway_server.call(gateway_server.gateway.drop_pool(str(other.pk)))
        with psycopg.connect(database_url(database="postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}_b" WITH (FORCE)')


@pytest.mark.parametrize(
    "key",
    ["", "not-a-key", "dpk_" + "A" * 38, "Bearer"],
)
def test_missing_or_garbled_keys_are_p6002(gateway_server, key):
    status, payload = post(gateway_server, "/accelerate/v1/query", '{"query": "SELECT 1"}', key=key or None)
    assert status == 401 and payload["error"]["code"] == "P6002"
    assert payload["error"]["requestId"].startswith("req_")


def test_a_deleted_key_stops_working(items):
    assert items.client.query("SELECT 1 AS x").rows == [[1]]
    api_key = ApiKey.objects.get(project=items.project)
    project_services.api_key_delete(api_key=api_key, actor=Actor.command("test"))
    deadline = time.monotonic() + 1.0  # effective within a second
    code = ""
    while time.monotonic() < deadline:
        try:
            items.client.query("SELECT 1 AS x")
        except AccelerateError as error:
            code = error.code
            break
        time.sleep(0.05)
    assert code == "P6002"


def test_an_expired_key_is_p6002(items):
    ApiKey.objects.filter(project=items.project).update(expires="2000-01-01T00:00:00Z")
    time.sleep(0.6)  # the change bumped the revocation counter: the gateway sees it within 0.5 s
    assert error_code(lambda: items.client.query("SELECT 1")) == "P6002"


def test_unconfigured_and_disabled_projects(items, gateway_server):
    bare = ProjectFactory(organization=items.project.organization)
    _, bare_key = project_services.api_key_create(project=bare, name="k", actor=Actor.command("test"))
    with AccelerateClient(f"prisma://{gateway_server.url}/?api_key={bare_key}") as client:
        assert error_code(lambda: client.query("SELECT 1")) == "P6001"

    config = items.project.accelerate_config
    accelerate_services.accelerate_disable(config=config, actor=Actor.command("test"))
    assert error_code(lambda: items.client.query("SELECT 1")) == "P6010"
    accelerate_services.accelerate_enable(config=config, actor=Actor.command("test"))
    assert items.client.query("SELECT 1 AS x").rows == [[1]]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "JSON object"),
        ("[1, 2]", "JSON object"),
        ('{"query": 5}', "`query`"),
        ('{"query": "  "}', "`query`"),
        ('{"query": "SELECT 1", "params": {"a": 1}}', "`params`"),
        ('{"query": "SELECT 1", "extra": true}', "Unknown field"),
        ('{"query": "SELECT 1", "cacheStrategy": {"ttl": 5, "max_age": 1}}', "Unknown cacheStrategy field"),
        ('{"query": "SELECT 1", "cacheStrategy": {"ttl": -1}}', "cacheStrategy.ttl"),
        ('{"query": "SELECT 1", "cacheStrategy": {"ttl": "60"}}', "cacheStrategy.ttl"),
        ('{"query": "SELECT 1", "cacheStrategy": {"ttl": 0, "swr": 0}}', "ttl or an swr"),
        (
            '{"query": "SELECT 1", "cacheStrategy": {"ttl": 5, "tags": ["a","b","c","d","e","f"]}}',
            "At most 5 tags",
        ),
        ('{"query": "SELECT 1", "cacheStrategy": {"ttl": 5, "tags": ["no spaces"]}}', "letters, digits"),
        ('{"query": "SELECT $1"}', "Invalid query parameters"),
        ('{"query": "SELECT $1::int + $2::int", "params": [1]}', "Invalid query parameters"),
        ('{"query": "INSERT INTO items VALUES (9)", "cacheStrategy": {"ttl": 5}}', "read-only"),
    ],
)
def test_bad_requests_are_p6005_with_a_clear_message(items, gateway_server, body, fragment):
    status, payload = post(gateway_server, "/accelerate/v1/query", body, key=items.key)
    assert (status, payload["error"]["code"]) == (400, "P6005"), payload
    assert fragment in payload["error"]["message"]


def test_huge_bodies_and_parameter_lists(items, gateway_server):
    big = json.dumps({"query": "SELECT 1 -- " + "x" * (1024 * 1024)})
    status, payload = post(gateway_server, "/accelerate/v1/query", big, key=items.key)
    assert (status, payload["error"]["code"]) == (400, "P6005")
    placeholders = ", ".join(f"${n}::int" for n in range(1, 10_001))
    result = items.client.query(f"SELECT array_length(ARRAY[{placeholders}], 1) AS n", list(range(10_000)))
    assert result.rows == [[10_000]]


def test_sql_errors_pass_through_with_their_sqlstate(items):
    with pytest.raises(AccelerateError) as caught:
        items.client.query("SELECT * FROM no_such_table")
    assert caught.value.code == "P2010"
    assert caught.value.sql_state == "42P01"
    assert 'relation "no_such_table" does not exist' in caught.value.message
    with pytest.raises(AccelerateError) as caught:
        items.client.query("SELEC 1")
    assert caught.value.sql_state == "42601"


def test_a_slow_query_is_cancelled_on_the_server_and_the_pool_stays_healthy(items):
    started = time.monotonic()
    assert error_code(lambda: items.client.query("SELECT pg_sleep(10)")) == "P6004"
    assert time.monotonic() - started < 4  # query timeout is 2 s
    active = items.sql(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(10)%' AND state = 'active'"
    )
    assert active == [(0,)]
    assert items.client.query("SELECT 1 AS x").rows == [[1]]


def test_a_full_pool_answers_p6004_after_the_pool_timeout(items, gateway_server):
    accelerate_services.accelerate_update(
        config=AccelerateConfig.objects.get(project=items.project),
        actor=Actor.command("test"),
        connection_string=None,  # keep the stored database
        region="eu-west-1",
        connection_limit=5,
        pool_timeout_seconds=1,
        query_timeout_seconds=2,
    )
    outcomes: list[str] = []

    def hold() -> None:
        with AccelerateClient(f"prisma://{gateway_server.url}/?api_key={items.key}") as client:
            try:
                client.query("SELECT pg_sleep(1.8)")
                outcomes.append("ok")
            except AccelerateError as error:
                outcomes.append(error.code)

    threads = [threading.Thread(target=hold) for _ in range(6)]  # connection limit 5
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["P6004"] + ["ok"] * 5


def test_the_response_size_limit_stops_a_large_result(items):
    # 1 MB is the smallest limit; this result is about 3 MB.
    items.project.accelerate_config.__class__.objects.filter(pk=items.project.accelerate_config.pk).update(
        response_size_limit_mb=1
    )
    time.sleep(0.05)
    assert (
        error_code(lambda: items.client.query("SELECT repeat('x', 1000) FROM generate_series(1, 3000)"))
        == "P6009"
    )
    assert items.client.query("SELECT 1 AS x").rows == [[1]]


def test_a_client_that_goes_away_has_its_query_cancelled(items, gateway_server):
    host, port = gateway_server.url.split(":")
    body = json.dumps({"query": "SELECT pg_sleep(1.5), 'abandoned'"}).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /accelerate/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {items.key}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 3
        while not items.sql(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%abandoned%' AND pid <> pg_backend_pid()"
        ):
            assert time.monotonic() < deadline, "the query never started"
            time.sleep(0.02)
    deadline = time.monotonic() + 1.0
    while items.sql(
        "SELECT 1 FROM pg_stat_activity"
        " WHERE query LIKE '%abandoned%' AND state = 'active' AND pid <> pg_backend_pid()"
    ):
        assert time.monotonic() < deadline, "the abandoned query kept running"
        time.sleep(0.02)
    assert items.client.query("SELECT 2 AS x").rows == [[2]]


def test_usage_is_metered_per_project(items, gateway_server):
    items.client.query("SELECT 1 AS x", cache_strategy={"ttl": 60})
    items.client.query("SELECT 1 AS x", cache_strategy={"ttl": 60})
    with pytest.raises(AccelerateError):
        items.client.query("SELEC")
    gateway_server.gateway.meter.flush()
    totals = {row.metric: row.value for row in UsageCounter.objects.filter(project_id=items.project.pk)}
    assert totals["queries"] == 3
    assert totals["cache_misses"] == 1
    assert totals["cache_hits_ttl"] == 1
    assert totals["errors"] == 1
    assert totals["egress_bytes"] > 100


def test_two_gateway_processes_share_the_redis_cache_and_its_invalidation(items):
    """Two gateways (as two processes would be) on one Redis: a hit on one for the other's miss,
    and an invalidation through one is seen by the other at once."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.testclient import TestClient

    from accelerate.gateway.app import Gateway, build_app
    from accelerate.gateway.cache import RedisQueryCache
    from accelerate.gateway.targets import TargetDirectory
    from tests.accelerate.test_cache import REDIS_URL, redis_available
    from usage.metering import Meter

    if not redis_available():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    prefix = f"test-{uuid.uuid4().hex}"

    def process():
        gateway = Gateway(
            resolver=TargetDirectory(ttl=0.0).resolve,
            cache=RedisQueryCache(REDIS_URL, prefix=prefix),
            region="test",
            meter=Meter("accelerate"),
        )
        return TestClient(Starlette(routes=[Mount("/accelerate/v1", app=build_app(gateway))]))

    headers = {"Authorization": f"Bearer {items.key}"}
    body = {"query": "SELECT count(*) AS n FROM items", "cacheStrategy": {"ttl": 60, "tags": ["items"]}}
    with process() as first, process() as second:
        answer = first.post("/accelerate/v1/query", json=body, headers=headers).json()
        assert (answer["info"]["cacheStatus"], answer["rows"]) == ("miss", [["2"]])
        answer = second.post("/accelerate/v1/query", json=body, headers=headers).json()
        assert (answer["info"]["cacheStatus"], answer["rows"]) == ("ttl", [["2"]])

        items.sql("INSERT INTO items VALUES (3, 'three', 3, NULL)")
        assert second.post("/accelerate/v1/invalidate", json={"tags": ["items"]}, headers=headers).json()[
            "ok"
        ]
        answer = first.post("/accelerate/v1/query", json=body, headers=headers).json()
        assert (answer["info"]["cacheStatus"], answer["rows"]) == ("miss", [["3"]])

        assert first.post("/accelerate/v1/invalidate-all", json={}, headers=headers).json()["ok"]
        assert (
            second.post("/accelerate/v1/query", json=body, headers=headers).json()["info"]["cacheStatus"]
            == "miss"
        )


def test_a_database_that_goes_down_answers_p6008_at_once_and_the_gateway_recovers(
    gateway_server, server_tmp, database_url
):
    """A user's database on a server of its own, stopped and started again under the gateway."""
    from devtools import embedded_pg

    server = embedded_pg.ensure_running(server_tmp / "userdb")
    try:
        project = ProjectFactory()
        actor = Actor.command("test")
        accelerate_services.accelerate_create(
            project=project,
            actor=actor,
            connection_string=server.superuser_url("postgres"),
            region="eu-west-1",
            pool_timeout_seconds=5,
        )
        _, key = project_services.api_key_create(project=project, name="k", actor=actor)
        with AccelerateClient(f"prisma://{gateway_server.url}/?api_key={key}") as client:
            assert client.query("SELECT 1 AS up").rows == [[1]]

            embedded_pg.stop(server_tmp / "userdb")
            started = time.monotonic()
            assert error_code(lambda: client.query("SELECT 1 AS up")) == "P6008"
            assert time.monotonic() - started < 2  # at once, not after the 5 s pool timeout

            embedded_pg.ensure_running(server_tmp / "userdb", port=server.port)
            assert client.query("SELECT 1 AS up").rows == [[1]]  # the stale pooled connection is not reused
    finally:
        embedded_pg.stop(server_tmp / "userdb")
