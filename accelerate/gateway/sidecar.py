"""A lean HTTP/1.1 client for the executor sidecar's Unix socket (accelerate/executor/).

The gateway forwards every uncached Prisma request to the sidecar, so this sits on the hot path
of a cache miss. It is deliberately small: keep-alive connections kept in a LIFO stack of idle
ones, each request written with one ``write`` (head and body together: no small-packet stalls),
answers read by ``Content-Length`` (the sidecar always sends it; chunked answers are read too).
Measured here against httpx over the same socket, it costs a fraction of httpx's time per
request (docs/accelerate.md, "Measured").

Failure is never a wait: a socket that is missing or refuses (the sidecar is down) raises
``SidecarUnavailable`` at once; a connection that breaks mid-request (the sidecar died) raises it
as soon as the socket says so; ``timeout`` bounds a sidecar that does not answer. A request
that is cancelled (its client went away) closes its connection, which tells the sidecar to
cancel the query on the database. Idle connections are dropped well before the sidecar's own
keep-alive timeout (60 s), so a pooled connection is never closed under a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

IDLE_SECONDS = 20.0  # the sidecar closes idle keep-alive connections after 60 s
MAX_IDLE = 64
MAX_HEAD_BYTES = 64 * 1024


class SidecarUnavailable(Exception):
    """The sidecar could not be reached, or the connection broke before its answer was complete."""


class SidecarTimeout(Exception):
    """The sidecar did not answer within the request's timeout (the connection was closed)."""


@dataclass(slots=True)
class SidecarResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class _Connection:
    __slots__ = ("idle_since", "loop", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.loop = asyncio.get_running_loop()
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (
            self.loop is asyncio.get_running_loop()  # a connection belongs to the loop that opened it
            and not self.reader.at_eof()
            and not self.writer.is_closing()
            and now - self.idle_since < IDLE_SECONDS
        )

    def close(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            self.writer.close()


class SidecarClient:
    """Requests to the sidecar listening on ``path``."""

    def __init__(self, path: str, *, max_idle: int = MAX_IDLE) -> None:
        self.path = path
        self.max_idle = max_idle
        self._idle: list[_Connection] = []

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        timeout: float,
    ) -> SidecarResponse:
        """One request; SidecarUnavailable / SidecarTimeout when it cannot be answered."""
        head = [f"{method} {target} HTTP/1.1\r\nHost: executor\r\nContent-Length: {len(body)}\r\n"]
        head.extend(f"{name}: {value}\r\n" for name, value in headers)
        head.append("\r\n")
        message = "".join(head).encode("latin-1") + body
        connection = self._take() or await self._connect()
        reusable = False
        try:
            async with asyncio.timeout(timeout):
                connection.writer.write(message)
                await connection.writer.drain()
                response, reusable = await _read_response(connection.reader, method)
            return response
        except TimeoutError:
            raise SidecarTimeout(f"the executor sidecar did not answer within {timeout:g}s") from None
        except (
            OSError,
            EOFError,
            RuntimeError,  # the transport closed under us
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            raise SidecarUnavailable("the executor sidecar closed the connection before answering") from None
        finally:
            # Also on cancellation: a connection whose answer was not read whole is closed, which
            # the sidecar takes as "the client went away" and cancels the query on the database.
            if reusable:
                self._give_back(connection)
            else:
                connection.close()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.open_unix_connection(self.path, limit=MAX_HEAD_BYTES)
        except (FileNotFoundError, ConnectionRefusedError):
            raise SidecarUnavailable(
                f"the executor sidecar is not running (nothing listens on {self.path})"
            ) from None
        except OSError as error:
            raise SidecarUnavailable(
                f"the executor sidecar cannot be reached on {self.path}: {error}"
            ) from None
        return _Connection(reader, writer)

    def _take(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    def _give_back(self, connection: _Connection) -> None:
        if len(self._idle) >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[SidecarResponse, bool]:
    """The answer, and whether the connection may carry another request."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version, status_text = lines[0].split(" ", 2)[:2]
    status = int(status_text)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return SidecarResponse(status, headers, b""), keep_alive
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return SidecarResponse(status, headers, await _read_chunked(reader)), keep_alive
    length = headers.get("content-length")
    if length is not None:
        return SidecarResponse(status, headers, await reader.readexactly(int(length))), keep_alive
    return SidecarResponse(status, headers, await reader.read()), False  # until the sidecar closes


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
