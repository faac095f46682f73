"""Run one statement through a pool and encode the result, within a response size limit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncRawCursor, pq
from psycopg.abc import PQGen
from psycopg.generators import fetch
from psycopg.types.json import Jsonb

from accelerate.gateway.pool import ConnectFailed, ConnectionPool, PoolTimeout
from dataplane.errors import DataPlaneError
from userdb.pgjson import row_encoder

FETCH_ROWS = 500  # rows per round of streaming; keeps memory bounded by the size limit


class StreamingCursor(AsyncRawCursor[Any]):
    """A raw cursor whose ``stream()`` also serves statements that return no rows.

    psycopg's ``stream()`` raises "didn't produce a result" for an INSERT, UPDATE, … only
    after the statement ran, and drops its row count. The gateway streams every statement
    (so no result is ever materialised whole), so this records the count and ends the
    stream normally instead. It overrides one small step of psycopg's stream (pinned to
    psycopg 3); tests cover both kinds of statement.
    """

    command_rowcount = -1

    def _stream_fetchone_gen(self, first: bool) -> PQGen[pq.abc.PGresult | None]:
        if not first:
            return (yield from super()._stream_fetchone_gen(first))
        res = yield from fetch(self._pgconn)
        if res is not None and res.status == pq.ExecStatus.COMMAND_OK:
            self.command_rowcount = res.command_tuples or 0
            while res is not None:
                res = yield from fetch(self._pgconn)
            return None
        if res is None or res.status not in (pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK):
            if res is not None and res.status == pq.ExecStatus.TUPLES_OK:
                # A query that returned no rows: the column description is in this result.
                self.pgresult = res
                while res is not None:
                    res = yield from fetch(self._pgconn)
                return None
            if res is not None:
                self._raise_for_result(res)  # errors: raises
            return None
        self.pgresult = res
        self._tx.set_pgresult(res, set_loaders=True)
        self._make_row = self._make_row_maker()
        result: pq.abc.PGresult = res
        return result


def adapt_params(params: Sequence[Any]) -> list[Any]:
    """JSON parameters to what psycopg binds: objects (and arrays holding them) as jsonb."""
    adapted: list[Any] = []
    for value in params:
        if isinstance(value, dict) or (
            isinstance(value, list) and any(isinstance(item, dict | list) for item in value)
        ):
            adapted.append(Jsonb(value))
        else:
            adapted.append(value)
    return adapted


async def execute(
    pool: ConnectionPool, sql: str, params: Sequence[Any], *, read_only: bool, max_bytes: int
) -> tuple[bytes, int]:
    """Run the statement; return the encoded ``"columns":…,"rows":…,"rowCount":…`` part and its row count.

    Raises DataPlaneError with the code the client should see. A read-only run happens in a
    READ ONLY transaction, so a write under a cacheStrategy is refused by PostgreSQL itself.
    """
    try:
        async with pool.connection() as conn:
            cursor = StreamingCursor(conn)
            try:
                if read_only:
                    await cursor.execute("BEGIN READ ONLY")
                body, count = await _stream(cursor, sql, adapt_params(params), max_bytes)
                if read_only:
                    await cursor.execute("COMMIT")
                return body, count
            finally:
                await cursor.close()
    except PoolTimeout as error:
        raise DataPlaneError("P6004", f"Timed out waiting for a database connection: {error}.") from None
    except ConnectFailed:
        raise DataPlaneError(
            "P6008", "Could not connect to the database. Check that it is running and reachable."
        ) from None
    except psycopg.errors.QueryCanceled:
        raise DataPlaneError(
            "P6004", "The query took longer than the query timeout and was cancelled."
        ) from None
    except psycopg.errors.ProtocolViolation as error:
        # The server's answer to placeholders and parameters that do not match.
        message = error.diag.message_primary or "placeholders and parameters do not match"
        raise DataPlaneError("P6005", f"Invalid query parameters: {message}") from None
    except psycopg.errors.ReadOnlySqlTransaction:
        raise DataPlaneError("P6005", "A cacheStrategy is only allowed on read-only queries.") from None
    except psycopg.ProgrammingError as error:
        if error.sqlstate:
            raise _database_error(error) from None
        # Raised by psycopg before sending: placeholders and parameters do not match, etc.
        raise DataPlaneError("P6005", f"Invalid query parameters: {error}") from None
    except psycopg.DataError as error:
        raise _database_error(error) from None
    except psycopg.OperationalError as error:
        if error.sqlstate and not error.sqlstate.startswith(("08", "57P")):
            raise _database_error(error) from None
        raise DataPlaneError("P6008", "The connection to the database was lost during the query.") from None
    except psycopg.Error as error:
        raise _database_error(error) from None


def _database_error(error: psycopg.Error) -> DataPlaneError:
    diag = error.diag
    message = diag.message_primary or str(error).splitlines()[0]
    return DataPlaneError(
        "P2010", f"The database refused the query: {message}", sqlState=error.sqlstate or ""
    )


async def _stream(cursor: StreamingCursor, sql: str, params: list[Any], max_bytes: int) -> tuple[bytes, int]:
    parts: list[bytes] = []
    size = 0
    count = 0
    encode = None
    rows = cursor.stream(sql, params, size=FETCH_ROWS)
    try:
        async for row in rows:
            if encode is None:
                encode = row_encoder([column.type_code for column in cursor.description or ()])
            chunk = json.dumps(
                encode(row), separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode()
            size += len(chunk) + 1
            if size > max_bytes:
                raise DataPlaneError(
                    "P6009", f"The response is larger than the response size limit ({max_bytes:,} bytes)."
                )
            parts.append(chunk)
            count += 1
    finally:
        await rows.aclose()  # type: ignore[attr-defined]  # an async generator; stops the query early
    columns = [column.name for column in cursor.description or ()]
    if cursor.command_rowcount >= 0:
        count = cursor.command_rowcount  # a statement without a result (INSERT, UPDATE, …)
    body = b"".join(
        [
            b'"columns":',
            json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode(),
            b',"rows":[',
            b",".join(parts),
            b'],"rowCount":',
            str(count).encode(),
        ]
    )
    return body, count
