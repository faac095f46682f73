"""The executor sidecar on its own (issue 15, phase 1): the real, pinned Prisma Client's requests,
carried to the sidecar's Unix socket as the gateway will carry them, get the answers the same
client gets straight from PostgreSQL; the sidecar's own API keeps its promises (setup, errors,
limits, cancellation, the SSRF pin, shutdown).

Each test starts its own sidecar (`node accelerate/executor/server.js`) against a fresh database
on the test server. Under CI=true a missing Node.js is a failure, not a skip.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import conninfo

from tests.accelerate.executor_sidecar import (
    PRISMA_DIR,
    ExecutorSidecar,
    missing_node_tools,
    setup_body,
)

CAPTURE = Path(__file__).parent / "captures" / "p7_prisma_https.jsonl"
APPLICATION_NAME = "dpc-accelerate"  # what the sidecar's connections call themselves


@pytest.fixture(scope="module", autouse=True)
def _node_tools() -> None:
    missing = missing_node_tools()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)


def wait_for(condition: Callable[[], Any], *, timeout: float = 10.0, message: str = "timed out") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A private (0700) directory with a short path: Unix socket paths are limited to ~107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="dpc-exec-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_sidecar(socket_dir) -> Iterator[Callable[..., ExecutorSidecar]]:
    """start_sidecar(*args, env=None) -> a running sidecar on socket_dir/exec.sock; all stopped afterwards."""
    started: list[ExecutorSidecar] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ExecutorSidecar:
        sidecar = ExecutorSidecar(socket_dir / "exec.sock", args=args, env=env).start()
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        try:
            sidecar.stop()
        except subprocess.TimeoutExpired:
            sidecar.kill()


def url_of(text: str) -> str:
    values = conninfo.conninfo_to_dict(text)
    password = f":{values['password']}" if values.get("password") else ""
    return f"postgresql://{values['user']}{password}@{values['host']}:{values['port']}/{values['dbname']}"


def run_sql(target: str, statements: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(target, autocommit=True) as conn:
        cursor = conn.execute(statements)
        return cursor.fetchall() if cursor.description else []


def sidecar_backends(target: str, *, state: str | None = None) -> list[tuple[Any, ...]]:
    """The sidecar's connections to the database, as (state, wait_event_type, query)."""
    dbname = conninfo.conninfo_to_dict(target)["dbname"]
    with psycopg.connect(url_of(target).rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT state, wait_event_type, query FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            [dbname, APPLICATION_NAME],
        ).fetchall()
    return [row for row in rows if state is None or row[0] == state]


# --- The Prisma Client, straight to PostgreSQL and through the sidecar -----------------------


@pytest.fixture
def compat_database(source_database) -> str:
    """A fresh database with tests/prisma/schema.sql's tables (seeded before each run)."""
    run_sql(source_database, (PRISMA_DIR / "schema.sql").read_text())
    return source_database


def seed(target: str) -> None:
    run_sql(target, (PRISMA_DIR / "seed.sql").read_text())


def run_compat(*args: str) -> list[dict[str, Any]]:
    """tests/prisma/compat.mjs: one parsed line per operation."""
    result = subprocess.run(
        ["node", "compat.mjs", *args], cwd=PRISMA_DIR, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def unexpected_outcomes(lines: list[dict[str, Any]]) -> list[str]:
    """Operations that failed without being meant to, or did not fail with the code they were meant to."""
    return [
        f"{line['name']}: {line.get('error')}"
        for line in lines
        if (line["ok"] and line["expected"]) or (not line["ok"] and line["error"]["code"] != line["expected"])
    ]


def test_the_prisma_client_gets_through_the_sidecar_what_it_gets_straight_from_postgresql(
    compat_database, start_sidecar
):
    url = url_of(compat_database)
    seed(compat_database)
    direct = run_compat("--target", "direct", "--database-url", url)
    assert len(direct) >= 30
    assert unexpected_outcomes(direct) == []

    seed(compat_database)
    sidecar = start_sidecar()
    assert sidecar.setup("compat", setup_body(url)).status_code == 201
    through = run_compat("--target", "sidecar", "--socket", str(sidecar.socket_path), "--executor", "compat")

    assert [line["name"] for line in through] == [line["name"] for line in direct]
    for expected, actual in zip(direct, through, strict=True):
        assert actual == expected, expected["name"]
    # Every plan really ran on the sidecar: at least one query request per operation.
    queries = [line for line in sidecar.requests_logged() if line["route"] in ("query", "transaction-query")]
    assert len(queries) >= len(direct)


READS = [
    "scalars: findMany of every type",
    "scalars: filters on BigInt, Decimal, DateTime, Boolean, enum",
    "scalars: Json path and equality filters",
    "read: AND / OR / NOT, contains insensitive, startsWith, endsWith",
    "read: cursor pagination",
    "read: distinct",
    "relations: include (1-n) with nested ordering",
    "relations: nested select through n-m",
    "relations: _count with a where",
    "aggregate: Decimal and BigInt",
    "groupBy: by author with having and ordering",
    "$queryRaw of every PostgreSQL scalar type",
]


def test_the_read_only_variant_answers_reads_as_postgresql_does_and_refuses_writes(
    compat_database, start_sidecar
):
    url = url_of(compat_database)
    only = [argument for name in READS for argument in ("--only", name)]
    seed(compat_database)
    direct = run_compat("--target", "direct", "--database-url", url, *only)
    sidecar = start_sidecar()
    assert sidecar.setup("reads", setup_body(url)).status_code == 201
    socket_args = ("--target", "sidecar", "--socket", str(sidecar.socket_path), "--executor", "reads")
    read_only = run_compat(*socket_args, "--read-only", *only)
    assert len(read_only) == len(READS)
    assert unexpected_outcomes(read_only) == []
    assert read_only == direct

    # A write sent as a cached read fails on the database (SQLSTATE 25006) and leaves nothing.
    written = run_compat(*socket_args, "--read-only", "--only", "write: upsert that creates")
    assert written[0]["ok"] is False
    assert "25006" in written[0]["error"]["message"]
    assert sidecar.requests_logged()[-1]["reason"] == "read-only-violation"
    assert run_sql(compat_database, "SELECT count(*) FROM users WHERE email = 'ken@example.com'") == [(0,)]
    # The same connections serve writes again once they are asked for without the header.
    assert run_compat(*socket_args, "--only", "write: upsert that creates")[0]["ok"] is True


# --- The client's captured requests, replayed over the socket --------------------------------

CAPTURED_USER_TABLE = """
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE TABLE "Post" (
    "id" SERIAL NOT NULL,
    "title" TEXT NOT NULL,
    "views" BIGINT NOT NULL DEFAULT 0,
    "authorId" INTEGER NOT NULL,
    CONSTRAINT "Post_pkey" PRIMARY KEY ("id")
);
ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id");
INSERT INTO "User" ("email", "name", "createdAt") VALUES ('x1@x.io', 'X one', '2026-01-01 00:00:00');
INSERT INTO "Post" ("title", "views", "authorId") VALUES ('First', 7, 1);
"""


def captured_session() -> list[dict[str, Any]]:
    """The first session of the capture: connection info, reads, a create, a transaction."""
    lines = [json.loads(line) for line in CAPTURE.read_text().splitlines()]
    return lines[: next(i for i, line in enumerate(lines) if line["path"] == "/transaction/tx-1/commit") + 1]


def captured(operation: str) -> dict[str, Any]:
    """The body of the first captured /query request for that operation."""
    for line in captured_session():
        if line["path"] == "/query" and json.loads(line["body"])["operation"] == operation:
            return json.loads(line["body"])
    raise LookupError(operation)


@pytest.fixture
def capture_database(source_database) -> str:
    run_sql(source_database, CAPTURED_USER_TABLE)
    return source_database


def forward(
    sidecar: ExecutorSidecar, executor: str, method: str, path: str, *, body: Any = None, **headers: str
):
    """A request the way the gateway forwards one: the client's path under /executors/{id}."""
    content = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
    return sidecar.client.request(
        method,
        f"/executors/{executor}{path}",
        content=content,
        headers={"Content-Type": "application/json", "Prisma-Engine-Hash": "7.10.0", **headers},
    )


def test_a_captured_client_session_gets_prisma_executor_answers(capture_database, start_sidecar):
    sidecar = start_sidecar()
    assert sidecar.setup("cap", setup_body(url_of(capture_database))).status_code == 201
    answers = []
    transaction = None
    for request in captured_session():
        path = request["path"].replace("tx-1", transaction) if transaction else request["path"]
        response = forward(sidecar, "cap", request["method"], path, body=request["body"] or None)
        assert response.status_code == 200, (path, response.text)
        answers.append(response.json())
        if path == "/transaction/start":
            transaction = response.json()["id"]
            assert response.headers["Prisma-Transaction-Id"] == transaction

    connection_info, found, _, created, everyone, started, counted, first, committed = answers
    assert connection_info == {"provider": "postgres", "connectionInfo": {"supportsRelationJoins": True}}
    assert found == {
        "data": [
            {
                "id": 1,
                "email": "x1@x.io",
                "name": "X one",
                "createdAt": {"$type": "DateTime", "value": "2026-01-01T00:00:00.000Z"},
            }
        ]
    }
    assert created["data"]["email"] == "a-x@b.c"
    assert created["data"]["createdAt"]["$type"] == "DateTime"
    assert [(user["email"], user["posts"]) for user in everyone["data"]] == [
        ("x1@x.io", [{"id": 1, "title": "First", "views": {"$type": "BigInt", "value": "7"}, "authorId": 1}]),
        ("a-x@b.c", []),
    ]
    assert counted == {"data": {"_count": {"_all": 2}}}
    assert first["data"]["id"] == 1
    assert committed == {}

    # Prisma's error answers, unchanged: 400 with code/error/meta for a query error...
    duplicate = forward(sidecar, "cap", "POST", "/query", body=captured("createOne"))
    assert duplicate.status_code == 400
    assert "Executor-Error" not in duplicate.headers
    error = duplicate.json()
    assert error["code"] == "P2002"
    assert error["error"] == "Unique constraint failed on the constraint: `User_email_key`"
    assert error["meta"]["driverAdapterError"]["cause"]["originalCode"] == "23505"
    # ... and 409 for a transaction that is already over.
    again = forward(sidecar, "cap", "POST", f"/transaction/{transaction}/commit")
    assert again.status_code == 409
    assert again.json()["code"] == "P2028"


# --- The sidecar's own API ----------------------------------------------------------------


def test_the_socket_is_private_and_health_names_the_versions(start_sidecar):
    sidecar = start_sidecar()
    mode = sidecar.socket_path.stat().st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600
    health = sidecar.client.get("/health").json()
    assert health == {
        "status": "ok",
        "executorVersion": "7.10.0",
        "supportedClientVersions": ["7.10.x"],
        "executors": 0,
    }


def test_setup_is_idempotent_ids_are_immutable_and_closing_forgets_the_executor(
    capture_database, start_sidecar
):
    sidecar = start_sidecar()
    body = setup_body(url_of(capture_database))
    first = sidecar.setup("p1-v1", body)
    assert first.status_code == 201
    assert first.json() == {
        "id": "p1-v1",
        "created": True,
        "clientVersion": "7.10.0",
        "executorVersion": "7.10.0",
        "tls": False,
    }
    again = sidecar.setup("p1-v1", body)
    assert (again.status_code, again.json()["created"]) == (200, False)
    other = sidecar.setup("p1-v1", {**body, "limits": {"connectionLimit": 2}})
    assert other.status_code == 409
    assert other.headers["Executor-Error"] == "executor-exists"

    closed = sidecar.client.delete("/executors/p1-v1")
    assert closed.json() == {"id": "p1-v1", "closed": True}
    gone = forward(sidecar, "p1-v1", "POST", "/query", body=captured("findMany"))
    assert gone.status_code == 404
    assert gone.headers["Executor-Error"] == "unknown-executor"
    assert gone.json()["reason"] == "unknown-executor"
    wait_for(lambda: sidecar_backends(capture_database) == [], message="the closed executor kept connections")


def test_a_restarted_sidecar_answers_unknown_executor_until_the_gateway_sets_it_up_again(
    capture_database, start_sidecar
):
    body = setup_body(url_of(capture_database))
    sidecar = start_sidecar()
    assert sidecar.setup("p1-v1", body).status_code == 201
    assert sidecar.stop() == 0
    restarted = start_sidecar()  # same socket path, the old file removed by the first's shutdown
    lost = forward(restarted, "p1-v1", "POST", "/query", body=captured("findMany"))
    assert (lost.status_code, lost.headers["Executor-Error"]) == (404, "unknown-executor")
    assert restarted.setup("p1-v1", body).status_code == 201
    assert forward(restarted, "p1-v1", "POST", "/query", body=captured("findMany")).status_code == 200


def test_a_client_version_the_executor_cannot_serve_is_told_which_versions_it_can(
    capture_database, start_sidecar
):
    sidecar = start_sidecar()
    refused = sidecar.setup("old", setup_body(url_of(capture_database), client_version="6.19.3"))
    assert refused.status_code == 400
    assert refused.headers["Executor-Error"] == "unsupported-client-version"
    answer = refused.json()
    assert answer["code"] == "P6005"
    assert '"6.19.3" is not supported' in answer["error"]
    assert "@prisma/client 7.10.x" in answer["error"]
    assert answer["supportedClientVersions"] == ["7.10.x"]

    assert sidecar.setup("current", setup_body(url_of(capture_database))).status_code == 201
    mismatch = forward(
        sidecar, "current", "POST", "/query", body=captured("findMany"), **{"Prisma-Engine-Hash": "7.9.0"}
    )
    assert (mismatch.status_code, mismatch.headers["Executor-Error"]) == (400, "client-version-mismatch")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hostaddr": None}, "connection.hostaddr is required"),
        ({"hostaddr": "db.example.com"}, "connection.hostaddr must be the IP address the gateway approved"),
        ({"host": "/var/run/postgresql"}, "no socket paths"),
        ({"sslrootcert": "/etc/ssl/private/key.pem"}, 'connection.sslrootcert may only be "system"'),
        ({"service": "prod"}, "unsupported connection keyword(s): service"),
        ({"channel_binding": "require"}, "channel_binding=require cannot be enforced"),
    ],
)
def test_a_setup_the_sidecar_cannot_honour_is_refused(capture_database, start_sidecar, change, message):
    sidecar = start_sidecar()
    body = setup_body(url_of(capture_database))
    body["connection"] = {
        key: value for key, value in {**body["connection"], **change}.items() if value is not None
    }
    refused = sidecar.setup("bad", body)
    assert refused.status_code == 400
    assert refused.headers["Executor-Error"] == "invalid-setup"
    assert message in refused.json()["error"]


def test_bad_requests_get_clear_errors(capture_database, start_sidecar):
    sidecar = start_sidecar()
    assert sidecar.setup("p", setup_body(url_of(capture_database))).status_code == 201
    cases = [
        (sidecar.client.get("/nowhere"), 404, "unknown-route"),
        (sidecar.client.get("/executors/p/query"), 405, "method-not-allowed"),
        (forward(sidecar, "p", "POST", "/query", body="{not json"), 400, "invalid-request"),
        (
            forward(sidecar, "p", "POST", "/query", body={"operation": "findMany", "plan": []}),
            400,
            "invalid-request",
        ),
        (
            forward(sidecar, "p", "POST", "/transaction/start", body={"timeout": "soon"}),
            400,
            "invalid-request",
        ),
        (sidecar.client.put("/executors/bad%20id", json={}), 400, "invalid-request"),
        (sidecar.client.get("/executors/%FF/connection-info"), 400, "invalid-request"),
    ]
    for response, status, reason in cases:
        assert (response.status_code, response.headers.get("Executor-Error")) == (status, reason), (
            response.text
        )
        assert response.json()["error"]
    missing = forward(sidecar, "p", "POST", "/transaction/not-a-transaction/query", body=captured("findMany"))
    assert (missing.status_code, missing.json()["code"]) == (409, "P2028")


def test_a_database_that_cannot_be_used_fails_the_setup_with_the_reason(capture_database, start_sidecar):
    sidecar = start_sidecar()
    url = url_of(capture_database)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    unreachable = sidecar.setup("down", setup_body(url, port=closed_port))
    assert unreachable.status_code == 502
    assert unreachable.headers["Executor-Error"] == "database-unreachable"
    assert unreachable.json()["code"] == "P6008"
    assert "ECONNREFUSED" in unreachable.json()["error"]

    refused = sidecar.setup("nodb", setup_body(url, dbname="no_such_database"))
    assert (refused.status_code, refused.headers["Executor-Error"]) == (502, "database-refused")
    assert refused.json()["sqlState"] == "3D000"
    # A failed setup leaves nothing behind: the id can be set up once the database is right.
    assert sidecar.setup("nodb", setup_body(url)).status_code == 201


# --- Limits and cancellation -------------------------------------------------------------


def test_the_query_timeout_answers_p6004_and_cancels_the_query_on_the_database(
    capture_database, start_sidecar
):
    sidecar = start_sidecar()
    assert (
        sidecar.setup(
            "slow", setup_body(url_of(capture_database), limits={"queryTimeoutMs": 500})
        ).status_code
        == 201
    )
    with psycopg.connect(capture_database) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        response = forward(sidecar, "slow", "POST", "/query", body=captured("findMany"))
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert response.headers["Executor-Error"] == "query-timeout"
        assert response.json()["code"] == "P6004"
        assert elapsed < 3
        # Nothing of it still runs on the database while the lock is held.
        wait_for(
            lambda: sidecar_backends(capture_database, state="active") == [], message="the query still runs"
        )


def test_a_request_the_gateway_abandons_is_cancelled_on_the_database(capture_database, start_sidecar):
    sidecar = start_sidecar()
    assert (
        sidecar.setup(
            "gone", setup_body(url_of(capture_database), limits={"queryTimeoutMs": 60_000})
        ).status_code
        == 201
    )
    body = json.dumps(captured("findMany")).encode()
    with psycopg.connect(capture_database) as blocker:
        blocker.execute('LOCK TABLE "User" IN ACCESS EXCLUSIVE MODE')
        client = socket.socket(socket.AF_UNIX)
        client.connect(str(sidecar.socket_path))
        client.sendall(
            b"POST /executors/gone/query HTTP/1.1\r\nHost: executor\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        wait_for(
            lambda: any(wait == "Lock" for _, wait, _ in sidecar_backends(capture_database, state="active")),
            message="the query never reached the database",
        )
        client.close()
        wait_for(
            lambda: sidecar_backends(capture_database, state="active") == [],
            message="the abandoned query still runs on the database",
        )
    assert sidecar.requests_logged()[-1]["reason"] == "client-gone"


def test_a_full_pool_answers_pool_timeout_rather_than_waiting_forever(capture_database, start_sidecar):
    sidecar = start_sidecar()
    limits = {"connectionLimit": 1, "poolTimeoutMs": 300}
    assert sidecar.setup("one", setup_body(url_of(capture_database), limits=limits)).status_code == 201
    transaction = forward(
        sidecar, "one", "POST", "/transaction/start", body={"maxWait": 2000, "timeout": 10_000}
    ).json()["id"]
    busy = forward(sidecar, "one", "POST", "/query", body=captured("findMany"))
    assert (busy.status_code, busy.headers["Executor-Error"], busy.json()["code"]) == (
        504,
        "pool-timeout",
        "P6004",
    )
    assert forward(sidecar, "one", "POST", f"/transaction/{transaction}/rollback").status_code == 200
    assert forward(sidecar, "one", "POST", "/query", body=captured("findMany")).status_code == 200
    assert len(sidecar_backends(capture_database)) == 1


def test_a_result_over_the_response_size_limit_answers_p6009(capture_database, start_sidecar):
    sidecar = start_sidecar()
    assert (
        sidecar.setup(
            "small", setup_body(url_of(capture_database), limits={"maxResponseBytes": 64})
        ).status_code
        == 201
    )
    everyone = next(
        json.loads(line["body"])
        for line in captured_session()
        if line["path"] == "/query" and json.loads(line["body"])["params"] == {}
    )
    too_big = forward(sidecar, "small", "POST", "/query", body=everyone)
    assert (too_big.status_code, too_big.headers["Executor-Error"], too_big.json()["code"]) == (
        413,
        "response-too-large",
        "P6009",
    )


def test_an_idle_executor_closes_itself_and_its_connections(capture_database, start_sidecar):
    sidecar = start_sidecar("--idle-timeout", "1")
    assert sidecar.setup("idle", setup_body(url_of(capture_database))).status_code == 201
    assert forward(sidecar, "idle", "POST", "/query", body=captured("findMany")).status_code == 200
    wait_for(
        lambda: sidecar.client.get("/executors").json() == {"executors": []},
        message="the idle executor stayed",
    )
    assert sidecar_backends(capture_database) == []
    assert forward(sidecar, "idle", "POST", "/query", body=captured("findMany")).status_code == 404


# --- The SSRF pin and TLS -----------------------------------------------------------------


class TlsPostgresImpostor:
    """A TCP server on 127.0.0.1 that speaks just enough PostgreSQL to accept TLS (SSLRequest -> 'S',
    then a handshake with its own certificate) and then refuses the login. It records the TLS server
    name (SNI) each client asked for and whether the handshake completed."""

    def __init__(self, folder: Path, *, certificate_name: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, certificate_name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(certificate_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.certificate_path = folder / "impostor.pem"
        key_path = folder / "impostor.key"
        self.certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(self.certificate_path, key_path)
        self.server_names: list[str | None] = []
        self.handshakes = 0
        self.context.sni_callback = lambda connection, server_name, context: self.server_names.append(
            server_name
        )
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(connection,), daemon=True).start()

    def _talk(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                if connection.recv(8)[4:] != (80877103).to_bytes(4, "big"):  # SSLRequest
                    return
                connection.sendall(b"S")
                with self.context.wrap_socket(connection, server_side=True) as secure:
                    self.handshakes += 1
                    secure.recv(4096)  # the startup message
                    fields = b"SFATAL\0VFATAL\0C28000\0Mthe impostor refuses every login\0\0"
                    secure.sendall(b"E" + (len(fields) + 4).to_bytes(4, "big") + fields)
            except (OSError, ssl.SSLError):
                return

    def close(self) -> None:
        self.listener.close()


def test_the_sidecar_connects_to_the_approved_address_and_checks_tls_against_the_host_name(
    capture_database, start_sidecar, socket_dir
):
    impostor = TlsPostgresImpostor(socket_dir, certificate_name="db.invalid")
    try:
        # The impostor's certificate is trusted as a CA, so only the name decides verify-full.
        sidecar = start_sidecar(env={"NODE_EXTRA_CA_CERTS": str(impostor.certificate_path)})
        # `.invalid` names never resolve (RFC 6761): the sidecar can only have used hostaddr.
        url = url_of(capture_database)

        def attempt(host: str, sslmode: str) -> Any:
            body = setup_body(url, host=host, hostaddr="127.0.0.1", port=impostor.port, sslmode=sslmode)
            return sidecar.setup(f"tls-{sslmode}-{host}", body)

        same_name = attempt("db.invalid", "verify-full")
        assert (same_name.status_code, same_name.headers["Executor-Error"]) == (502, "database-refused")
        assert "the impostor refuses every login" in same_name.json()["error"]
        assert impostor.server_names == ["db.invalid"]
        assert impostor.handshakes == 1

        other_name = attempt("other.invalid", "verify-full")
        assert (other_name.status_code, other_name.headers["Executor-Error"]) == (502, "database-unreachable")
        assert "ERR_TLS_CERT_ALTNAME_INVALID" in other_name.json()["error"]
        assert impostor.server_names[-1] == "other.invalid"
        assert impostor.handshakes == 1  # the sidecar gave up on the certificate

        chain_only = attempt("other.invalid", "verify-ca")
        assert chain_only.headers["Executor-Error"] == "database-refused"
        assert impostor.handshakes == 2
    finally:
        impostor.close()


def test_sslmode_verify_full_refuses_a_certificate_nobody_vouches_for(
    capture_database, start_sidecar, socket_dir
):
    impostor = TlsPostgresImpostor(socket_dir, certificate_name="db.invalid")
    try:
        sidecar = start_sidecar()
        body = setup_body(
            url_of(capture_database),
            host="db.invalid",
            hostaddr="127.0.0.1",
            port=impostor.port,
            sslmode="verify-full",
        )
        refused = sidecar.setup("untrusted", body)
        assert refused.headers["Executor-Error"] == "database-unreachable"
        assert "SELF_SIGNED" in refused.json()["error"]
        # require encrypts without checking the certificate (libpq's meaning without a root certificate).
        body["connection"]["sslmode"] = "require"
        assert sidecar.setup("encrypted", body).headers["Executor-Error"] == "database-refused"
    finally:
        impostor.close()


# --- Lifecycle and logs -------------------------------------------------------------------


def test_sigterm_rolls_back_open_transactions_closes_connections_and_removes_the_socket(
    capture_database, start_sidecar
):
    sidecar = start_sidecar()
    assert sidecar.setup("t", setup_body(url_of(capture_database))).status_code == 201
    transaction = forward(
        sidecar, "t", "POST", "/transaction/start", body={"maxWait": 2000, "timeout": 60_000}
    ).json()["id"]
    inserted = forward(sidecar, "t", "POST", f"/transaction/{transaction}/query", body=captured("createOne"))
    assert inserted.status_code == 200
    assert sidecar.stop(signal.SIGTERM) == 0
    assert not sidecar.socket_path.exists()
    assert sidecar_backends(capture_database) == []
    assert run_sql(capture_database, "SELECT count(*) FROM \"User\" WHERE email = 'a-x@b.c'") == [(0,)]


def test_a_stale_socket_is_replaced_a_live_one_kept_and_anything_else_left_alone(start_sidecar, socket_dir):
    crashed = start_sidecar()
    crashed.stop(signal.SIGKILL)  # no shutdown: the socket file stays behind
    assert crashed.socket_path.exists()
    running = start_sidecar()
    assert running.client.get("/health").status_code == 200
    with pytest.raises(RuntimeError, match="another process is listening"):
        ExecutorSidecar(running.socket_path).start()
    assert running.client.get("/health").status_code == 200

    precious = socket_dir / "precious.sock"
    precious.write_text("not a socket")
    with pytest.raises(RuntimeError, match="exists and is not a socket"):
        ExecutorSidecar(precious).start()
    assert precious.read_text() == "not a socket"


def test_the_sidecar_exits_when_its_parent_goes_away(capture_database, start_sidecar):
    sidecar = start_sidecar()
    assert sidecar.setup("p", setup_body(url_of(capture_database))).status_code == 201
    assert sidecar.process is not None and sidecar.process.stdin is not None
    sidecar.process.stdin.close()  # what the gateway's death does to the pipe
    assert sidecar.process.wait(10) == 0
    assert sidecar_backends(capture_database) == []


def test_one_log_line_per_request_and_never_a_parameter_or_a_password(capture_database, start_sidecar):
    sidecar = start_sidecar()
    url = url_of(capture_database)
    password = psycopg.conninfo.conninfo_to_dict(capture_database)["password"]  # the server checks it
    assert password and sidecar.setup("logged", setup_body(url)).status_code == 201
    query = captured("findMany")
    query["params"] = {"%1": "param-marker-9d2e"}
    assert forward(sidecar, "logged", "POST", "/query", body=query).status_code == 200
    assert forward(sidecar, "logged", "POST", "/query", body=captured("createOne")).status_code == 200
    assert forward(sidecar, "logged", "POST", "/query", body=captured("createOne")).status_code == 400
    assert sidecar.stop() == 0

    text = sidecar.log_path.read_text()
    assert password not in text
    assert "param-marker-9d2e" not in text
    assert "a-x@b.c" not in text
    requests = sidecar.requests_logged()
    assert [(line["route"], line["status"], line.get("code")) for line in requests] == [
        ("setup", 201, None),
        ("query", 200, None),
        ("query", 200, None),
        ("query", 400, "P2002"),
    ]
    assert all(line["executor"] == "logged" and line["ms"] >= 0 for line in requests)
