"""Prisma Client 7.10 `findUnique` by primary key: straight to PostgreSQL (adapter-pg) vs through the
executor sidecar alone (accelerate/executor, over its Unix socket), at concurrency 1 and 32.

The same database (a scratch `bench_prisma` on the console's PostgreSQL, tests/prisma/schema.sql,
10,000 users), the same query and the same pool size (10) for both. The load is one Node.js process
with one PrismaClient (tests/prisma/findunique-bench.mjs); the sidecar is another process, as in
production. The gateway rows (miss, hit) join this table once the gateway forwards to the sidecar.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import setup_django, table

USERS = 10_000
POOL = 10
RUNS = ((1, 3000), (32, 20000))  # (concurrency, measured requests)


def _load(target_args: list[str], concurrency: int, requests: int) -> dict[str, float]:
    from tests.accelerate.executor_sidecar import PRISMA_DIR

    result = subprocess.run(
        [
            "node",
            "findunique-bench.mjs",
            *target_args,
            "--concurrency",
            str(concurrency),
            "--requests",
            str(requests),
            "--warmup",
            "500",
            "--ids",
            str(USERS),
        ],
        cwd=PRISMA_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout))


def main() -> bool | None:
    setup_django()
    import logging

    import psycopg
    from django.db import connection

    from tests.accelerate.executor_sidecar import ExecutorSidecar, missing_node_tools, setup_body

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per setup call otherwise
    missing = missing_node_tools()
    if missing:
        print(f"not run: {missing}")
        return False

    params = connection.get_connection_params()
    password = f":{params['password']}" if params.get("password") else ""
    server = f"postgresql://{params['user']}{password}@{params['host']}:{params['port']}"
    connection.close()
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS bench_prisma WITH (FORCE)")
        conn.execute("CREATE DATABASE bench_prisma")
    source = f"{server}/bench_prisma"
    folder = Path(tempfile.mkdtemp(prefix="dpc-bench-", dir="/tmp"))
    sidecar = None
    try:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute((Path(__file__).resolve().parents[1] / "tests/prisma/schema.sql").read_text())
            conn.execute(
                "INSERT INTO users (email, name, created_at) "
                "SELECT 'user' || g || '@example.com', 'User ' || g, now() FROM generate_series(1, %s) g",
                [USERS],
            )
            conn.execute("ANALYZE users")
        sidecar = ExecutorSidecar(folder / "exec.sock").start()
        answer = sidecar.setup("bench", setup_body(source, limits={"connectionLimit": POOL}))
        assert answer.status_code == 201, answer.text

        direct_args = ["--target", "direct", "--database-url", source, "--pool", str(POOL)]
        sidecar_args = ["--target", "sidecar", "--socket", str(sidecar.socket_path), "--executor", "bench"]
        targets = {"Prisma -> PostgreSQL (adapter-pg)": direct_args, "Prisma -> sidecar alone": sidecar_args}
        rows = []
        for concurrency, requests in RUNS:
            medians = {}
            for label, target_args in targets.items():
                result = _load(target_args, concurrency, requests)
                medians[label] = result["median_ms"]
                rows.append(
                    [
                        label,
                        concurrency,
                        f"{result['median_ms']:.3f}",
                        f"{result['p99_ms']:.3f}",
                        f"{result['rps']:,.0f}",
                    ]
                )
            direct, through = medians.values()
            rows.append(["  sidecar / direct (median)", concurrency, f"{through / direct:.2f}x", "", ""])
        print(table(["path", "concurrency", "median ms", "p99 ms", "requests/s"], rows))
        print(f"   ({USERS:,} users; pool {POOL} both ways; requests per run: {dict(RUNS)})")
        return None
    finally:
        if sidecar is not None:
            sidecar.stop()
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS bench_prisma WITH (FORCE)")


if __name__ == "__main__":
    main()
