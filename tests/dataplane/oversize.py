"""Sending a data-plane endpoint more body than it accepts, over a raw socket, and watching the server.

Two ways a body can be too large: it says so (``Content-Length``), or it does not (chunked) and
just keeps coming. A server that checks its limit answers the first before a byte of body is
sent and the second soon after the limit; one that reads the body whole first holds all of it.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

CHUNK = b"x" * 65536


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    sent: int  # body bytes the client had sent when the answer came


def _read_answer(sock: socket.socket, timeout: float) -> tuple[int, dict[str, Any]]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            raise ConnectionError(f"the server closed the connection without an answer: {data!r}")
        data += part
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        part = sock.recv(65536)
        if not part:
            break
        rest += part
    return status, json.loads(rest[:length] or b"{}")


def _request_head(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post_declaring(
    host: str, port: int, path: str, headers: dict[str, str], length: int, *, timeout: float = 5.0
) -> Answer:
    """Declare a ``length``-byte body and send none of it: a server that checks the declared size
    answers at once; one that waits for the body times out (socket.timeout)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        declared = {**headers, "Content-Type": "application/json", "Content-Length": str(length)}
        sock.sendall(_request_head(host, port, path, declared))
        status, body = _read_answer(sock, timeout)
        return Answer(status, body, 0)


def post_chunked_flood(
    host: str, port: int, path: str, headers: dict[str, str], total: int, *, timeout: float = 60.0
) -> Answer:
    """Send up to ``total`` bytes as a chunked body (no Content-Length), stopping as soon as the
    server answers; then read the answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        chunked = {**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
        sock.sendall(_request_head(host, port, path, chunked))
        frame = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n"
        sent = 0
        deadline = time.monotonic() + timeout
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break  # the server answered (or closed): stop sending
            if writable:
                try:
                    sock.sendall(frame)
                except OSError:
                    break
                sent += len(CHUNK)
        else:
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        status, body = _read_answer(sock, timeout)
        return Answer(status, body, sent)


def resident_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_resident_growth() -> Iterator[list[int]]:
    """Samples this process's RSS every 5 ms while the block runs; yields a one-item list that
    holds, afterwards, the largest growth over the RSS at the start (bytes)."""
    baseline = resident_bytes()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes() - baseline)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join(5)
        peak[0] = max(peak[0], resident_bytes() - baseline)


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth
