"""A small keep-alive HTTP/1.1 load generator for the benchmarks, run in its own process.

    python -m bench._loadgen '{"host": "127.0.0.1", "port": 8000, "path": "/accelerate/v1/query",
        "headers": {...}, "bodies": ["..."], "concurrency": 32, "requests": 5000, "timeout": 30}'

(or the same JSON on stdin, without an argument, when the bodies are too large for a command line).

Each of ``concurrency`` connections sends requests one after another (bodies cycle), and the
process prints one JSON line: status counts, latency median/p99 in ms, requests/s, and how
many requests got no answer within ``timeout`` (hung). A body may contain ``{n}``, replaced
by the request's number (to make every request distinct).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from typing import Any


async def _one_connection(
    spec: dict[str, Any], numbers: Any, latencies: list[float], statuses: Counter[str]
) -> None:
    reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    head = f"POST {spec['path']} HTTP/1.1\r\nHost: {spec['host']}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in spec["headers"].items()
    )
    bodies = spec["bodies"]
    try:
        for n in numbers:
            body = bodies[n % len(bodies)].replace("{n}", str(n)).encode()
            request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            started = time.perf_counter()
            writer.write(request)
            try:
                status = await asyncio.wait_for(_read_response(reader), spec.get("timeout", 30))
            except TimeoutError:
                statuses["hung"] += 1
                return
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> str:
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    code = status_line.split()[1].decode()
    if code != "200":
        try:
            return f"{code} {json.loads(body)['error']['code']}"
        except (ValueError, KeyError):
            return code
    return code


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    total, concurrency = spec["requests"], spec["concurrency"]
    numbers = iter(range(total))
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    await asyncio.gather(*(_one_connection(spec, numbers, latencies, statuses) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "statuses": dict(statuses),
        "median_ms": statistics.median(ordered) * 1000 if ordered else None,
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000 if ordered else None,
        "rps": len(latencies) / elapsed,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read())))))
