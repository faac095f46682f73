"""The capture worker (``manage.py pulseworker``): every enabled project's changes into the event log.

One thread per enabled project. Each first takes the project's PostgreSQL advisory lock on
a connection to the console database, so one worker at a time reads a slot and the
others wait to take over. Holding it, the thread repeats, every ``PULSE_POLL_INTERVAL``:

1. ``upto`` = the source's WAL flush position, read BEFORE peeking;
2. ``pg_logical_slot_peek_binary_changes(slot, upto, PULSE_BATCH_CHANGES, …)``: whole
   transactions in commit order, nothing consumed yet;
3. in ONE console transaction on the lock's connection: the new confirmed position and the
   events' numbers on the configuration, the events (COPY), and one NOTIFY for the stream
   endpoint;
4. after that commits, ``pg_replication_slot_advance(slot, confirmed)``.

``confirmed`` is ``upto`` when the peek returned less than it was allowed to (every
transaction that committed before ``upto`` was in it, published or not: this is what lets
a quiet database, or one whose traffic is all in unpublished tables, release its WAL), else
the end of the last transaction returned. A crash between 3 and 4 peeks the same
transactions again; those that end at or before the stored confirmed position are skipped
(and the log's unique (project, lsn, position) would refuse them anyway). Writes go over
the connection that holds the lock: a worker that lost its lock has lost that connection,
so it cannot write either. See docs/pulse.md for the trade-offs.

Over 400 lines on purpose: the loop above, the statements it runs on the source and on the
console, and the supervisor that runs one loop per project are proved together (the
capture tests and the kill drills), and read best in one place.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.db import close_old_connections, connections
from psycopg import sql
from psycopg.types.json import Jsonb

from pulse.capture.events import CapturedTransaction, TransactionDecoder
from pulse.capture.pgoutput import DecodeError, format_lsn, parse_lsn
from pulse.database import lost
from pulse.models import PulseConfig, PulseEvent
from pulse.selectors import CaptureTarget, pulse_capture_targets
from usage.metering import Meter
from userdb.connection_strings import ConnectionStringError, parse, resolve_allowed_address

log = logging.getLogger("pulse.worker")

NOTIFY_CHANNEL = "pulse_events"
EVENT_TABLE = PulseEvent._meta.db_table
CONFIG_TABLE = PulseConfig._meta.db_table
MODELS_REFRESH_SECONDS = 30.0
SOURCE_CHECK_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 30.0
# A slot or publication found gone is looked at again this much later before it is reported:
# disabling Pulse drops them first and stores "disabled" a moment after.
DISABLE_GRACE_SECONDS = 1.0
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}


def console_connect_kwargs() -> dict[str, Any]:
    """psycopg.connect arguments for the console database (the one Django uses)."""
    params = connections["default"].get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(name, None)
    return params


def lock_key(project_id: uuid.UUID) -> int:
    """The advisory lock key of a project's slot (a signed 64-bit number from its id)."""
    return int.from_bytes(project_id.bytes[:8], "big", signed=True)


class SourceError(Exception):
    """The source database cannot be read right now; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Stopped(Exception):
    pass


class ProjectCapture(threading.Thread):
    """Captures one project while it holds the project's advisory lock."""

    def __init__(self, target: CaptureTarget, *, meter: Meter, worker_stop: threading.Event) -> None:
        super().__init__(name=f"pulse-{target.slot_name}", daemon=True)
        self.target = target
        self.meter = meter
        self.stop_event = threading.Event()
        self.worker_stop = worker_stop
        self.poll_interval = settings.PULSE_POLL_INTERVAL
        self.batch_changes = settings.PULSE_BATCH_CHANGES
        self.holding_lock = False
        self._error_reported = False

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set() or self.worker_stop.is_set()

    def stop(self) -> None:
        self.stop_event.set()

    def _sleep(self, seconds: float) -> None:
        if self.stop_event.wait(seconds) or self.worker_stop.is_set():
            raise Stopped

    # The loop -----------------------------------------------------------------------------

    def run(self) -> None:
        backoff = 1.0
        while not self.stopping:
            console: psycopg.Connection[Any] | None = None
            try:
                console = psycopg.connect(**console_connect_kwargs(), **KEEPALIVES, autocommit=True)
                self._wait_for_lock(console)
                self._capture(console)
            except Stopped:
                break
            except SourceError as error:
                if not self._still_wanted(console):
                    # Disabled meanwhile: the console dropped the slot itself, which is no error.
                    log.info("project=%s: Pulse was disabled; stopped reading", self.target.project_id)
                    break
                log.warning("project=%s: %s", self.target.project_id, error.message)
                self._report_error(console, error.message)
            except psycopg.OperationalError as error:
                # The console database went away (or our connection did): the lock went with it.
                log.warning("project=%s: console database unavailable: %s", self.target.project_id, error)
            except Exception:
                log.exception("project=%s: capture failed", self.target.project_id)
                self._report_error(console, "The capture worker failed unexpectedly; see its log.")
            finally:
                self.holding_lock = False
                if console is not None:
                    console.close()
            try:
                self._sleep(backoff)
            except Stopped:
                break
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _wait_for_lock(self, console: psycopg.Connection[Any]) -> None:
        key = lock_key(self.target.project_id)
        while True:
            row = console.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
            if row and row[0]:
                self.holding_lock = True
                log.info("project=%s: reading slot %s", self.target.project_id, self.target.slot_name)
                return
            self._sleep(settings.PULSE_LOCK_RETRY)

    def _capture(self, console: psycopg.Connection[Any]) -> None:
        confirmed = self._stored_position(console)
        source = self._connect_source()
        try:
            self._follow(console, source, confirmed)
        except psycopg.Error as error:
            raise self._source_error(source, error) from None
        finally:
            source.close()

    def _stored_position(self, console: psycopg.Connection[Any]) -> int:
        """The confirmed position stored on the configuration (Stopped if Pulse was disabled)."""
        stored = console.execute(
            f"SELECT confirmed_lsn FROM {CONFIG_TABLE} WHERE project_id = %s AND enabled",  # noqa: S608
            [self.target.project_id],
        ).fetchone()
        if stored is None:
            raise Stopped  # disabled meanwhile: the supervisor stops this thread
        return int(stored[0] or 0)

    def _follow(
        self, console: psycopg.Connection[Any], source: psycopg.Connection[Any], confirmed: int
    ) -> None:
        """The loop of this module's docstring, from where the slot stands, until stopped."""
        slot = source.execute(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
            [self.target.slot_name],
        ).fetchone()
        if slot is None:
            raise self._slot_gone()
        advanced = parse_lsn(slot[0]) if slot[0] else 0
        decoder = TransactionDecoder(source)
        self._refresh_models(console, source)
        models_checked = objects_checked = time.monotonic()
        self._clear_error(console)
        while not self.stopping:
            if time.monotonic() - objects_checked > SOURCE_CHECK_SECONDS:
                # PostgreSQL 18 decodes on without a dropped publication (it only warns), and an
                # idle database decodes nothing at all: look, whether or not the WAL moved.
                self._check_source_objects(source)
                objects_checked = time.monotonic()
            upto = parse_lsn(_scalar(source, "SELECT pg_current_wal_flush_lsn()::text"))
            if upto <= advanced:
                self._sleep(self.poll_interval)
                continue
            known = set(decoder.models_seen)
            reached, full, confirmed = self._batch(console, source, decoder, upto, confirmed)
            if reached > advanced:
                source.execute(
                    "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)",
                    [self.target.slot_name, format_lsn(reached)],
                )
                advanced = reached
            since = time.monotonic() - models_checked
            if decoder.models_seen - known or since > MODELS_REFRESH_SECONDS:
                self._refresh_models(console, source)
                models_checked = objects_checked = time.monotonic()
            if not full:
                self._sleep(self.poll_interval)

    def _batch(
        self,
        console: psycopg.Connection[Any],
        source: psycopg.Connection[Any],
        decoder: TransactionDecoder,
        upto: int,
        confirmed: int,
    ) -> tuple[int, bool, int]:
        """Steps 2 and 3: peek up to ``upto`` and store the transactions not stored yet. Returns where
        the slot may advance to, whether the peek was full, and the new confirmed position."""
        rows = self._peek(source, upto)
        transactions = self._decode(decoder, rows)
        full = len(rows) >= self.batch_changes
        reached = transactions[-1].end_lsn if full and transactions else upto
        fresh = [t for t in transactions if t.end_lsn > confirmed]
        if any(t.events for t in fresh):
            count = self._store(console, fresh, reached)
            self.meter.add(
                organization_id=self.target.organization_id,
                project_id=self.target.project_id,
                events_captured=count,
            )
            confirmed = max(confirmed, reached)
        return reached, full, confirmed

    def _source_error(self, source: psycopg.Connection[Any], error: psycopg.Error) -> SourceError:
        """What a failed statement on the source means, safe to show."""
        if source.closed or source.broken or isinstance(error, psycopg.errors.QueryCanceled):
            return SourceError(lost(error, self._parsed()).message)
        if isinstance(error, psycopg.errors.UndefinedObject):
            # A missing slot and a missing publication share this SQLSTATE: name the one gone.
            self._check_source_objects(source)
        if isinstance(error, psycopg.errors.ObjectInUse):
            return SourceError(f"The replication slot {self.target.slot_name} is in use by another reader.")
        return SourceError(f"The database refused to decode the slot: {error.diag.message_primary}")

    # The source -----------------------------------------------------------------------------

    def _parsed(self) -> Any:
        return parse(self.target.connection_string)

    def _connect_source(self) -> psycopg.Connection[Any]:
        if not self.target.connection_string:
            raise SourceError(
                "The stored connection string cannot be decrypted with SECRET_ENCRYPTION_KEYS; "
                "an operator must fix it."
            )
        try:
            parsed = self._parsed()
            address = resolve_allowed_address(parsed.host, parsed.port)
        except ConnectionStringError as error:
            raise SourceError(error.message) from None
        kwargs = parsed.connect_kwargs(hostaddr=address, connect_timeout=settings.PULSE_CHECK_TIMEOUT)
        timeout = f"-c statement_timeout={int(settings.PULSE_CAPTURE_STATEMENT_TIMEOUT * 1000)}"
        kwargs["options"] = f"{kwargs['options']} {timeout}" if kwargs.get("options") else timeout
        try:
            return psycopg.connect(**kwargs, **KEEPALIVES, autocommit=True)
        except psycopg.Error as error:
            raise SourceError(lost(error, parsed).message) from None

    def _peek(self, source: psycopg.Connection[Any], upto: int) -> list[tuple[bytes]]:
        cursor = source.cursor()
        cursor.execute(
            "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, %s, "
            "'proto_version', '1', 'publication_names', %s)",
            [
                self.target.slot_name,
                format_lsn(upto),
                self.batch_changes,
                quote_publication(self.target.publication_name),
            ],
            binary=True,
        )
        return cursor.fetchall()

    def _decode(self, decoder: TransactionDecoder, rows: list[tuple[bytes]]) -> list[CapturedTransaction]:
        transactions = []
        try:
            for (data,) in rows:
                transaction = decoder.feed(data)
                if transaction is not None:
                    transactions.append(transaction)
        except (DecodeError, KeyError) as error:
            raise SourceError(f"A change could not be decoded ({error}); capture stops here.") from None
        return transactions

    def _refresh_models(self, console: psycopg.Connection[Any], source: psycopg.Connection[Any]) -> None:
        """Record the tables the publication covers (the stream checks ``model`` against them)."""
        self._check_source_objects(source)
        models = sorted(
            name if schema == "public" else f"{schema}.{name}"
            for schema, name in source.execute(
                "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s",
                [self.target.publication_name],
            )
        )
        console.execute(
            f"UPDATE {CONFIG_TABLE} SET captured_models = %s WHERE project_id = %s "  # noqa: S608
            "AND captured_models IS DISTINCT FROM %s",
            [Jsonb(models), self.target.project_id, Jsonb(models)],
        )

    def _check_source_objects(self, source: psycopg.Connection[Any]) -> None:
        """Both the slot and the publication are still there (either can be dropped by hand)."""
        row = source.execute(
            "SELECT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = %s), "
            "EXISTS (SELECT FROM pg_publication WHERE pubname = %s)",
            [self.target.slot_name, self.target.publication_name],
        ).fetchone()
        slot_exists, publication_exists = row if row else (False, False)
        if not slot_exists:
            raise self._slot_gone()
        if not publication_exists:
            raise SourceError(
                f"The publication {self.target.publication_name} is gone from the database: "
                "disable Pulse and enable it again."
            )

    def _slot_gone(self) -> SourceError:
        return SourceError(
            f"The replication slot {self.target.slot_name} is not in the database (dropped outside the "
            "console): disable Pulse and enable it again."
        )

    # The console database -----------------------------------------------------------------------

    def _store(
        self, console: psycopg.Connection[Any], transactions: list[CapturedTransaction], reached: int
    ) -> int:
        """Write the events, the confirmed position and a NOTIFY in one transaction; how many events.

        The events are numbered in the same transaction (``seq``, the project's own numbering:
        the ids streams send), from the configuration's ``last_event_seq``: one writer per
        project holds the lock, and the row lock of this UPDATE would serialize any other."""
        project_id = self.target.project_id
        now = dt.datetime.now(dt.UTC)
        count = sum(len(transaction.events) for transaction in transactions)
        with console.transaction():
            numbered = console.execute(
                f"UPDATE {CONFIG_TABLE} SET confirmed_lsn = GREATEST(COALESCE(confirmed_lsn, 0), %s), "  # noqa: S608
                "last_captured_at = %s, last_event_seq = last_event_seq + %s "
                "WHERE project_id = %s AND enabled RETURNING last_event_seq",
                [reached, now, count, project_id],
            ).fetchone()
            if numbered is None:
                raise Stopped  # disabled meanwhile: nothing is written
            seq = int(numbered[0]) - count
            with console.cursor().copy(
                f"COPY {EVENT_TABLE} (project_id, seq, model_name, action, payload, lsn, position, "
                "committed_at, captured_at) FROM STDIN"
            ) as copy:
                for transaction in transactions:
                    for event in transaction.events:
                        seq += 1
                        copy.write_row(
                            (
                                project_id,
                                seq,
                                event.model_name,
                                event.action,
                                event.payload,
                                transaction.commit_lsn,
                                event.position,
                                transaction.committed_at,
                                now,
                            )
                        )
            console.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(project_id)])
        return count

    def _still_wanted(self, console: psycopg.Connection[Any] | None) -> bool:
        """Whether the project still has Pulse enabled on this slot, asked twice a moment apart:
        disabling drops the slot first and stores "disabled" right after. True when the console
        database cannot say (the error is then reported as usual)."""
        for attempt in range(2):
            try:
                if console is None or console.closed or console.broken:
                    return True
                row = console.execute(
                    f"SELECT 1 FROM {CONFIG_TABLE} WHERE project_id = %s AND enabled "  # noqa: S608
                    "AND slot_name = %s",
                    [self.target.project_id, self.target.slot_name],
                ).fetchone()
            except psycopg.Error:
                return True
            if row is None:
                return False
            if attempt == 0 and (self.stop_event.wait(DISABLE_GRACE_SECONDS) or self.worker_stop.is_set()):
                return True  # stopping anyway: the loop ends right after the report
        return True

    def _report_error(self, console: psycopg.Connection[Any] | None, message: str) -> None:
        try:
            if console is None or console.closed or console.broken:
                console = psycopg.connect(**console_connect_kwargs(), autocommit=True)
            console.execute(
                f"UPDATE {CONFIG_TABLE} SET last_error = %s, last_error_at = now() "  # noqa: S608
                "WHERE project_id = %s AND enabled",
                [message, self.target.project_id],
            )
            self._error_reported = True
        except psycopg.Error:
            log.warning("project=%s: could not record the error on the configuration", self.target.project_id)

    def _clear_error(self, console: psycopg.Connection[Any]) -> None:
        console.execute(
            f"UPDATE {CONFIG_TABLE} SET last_error = '', last_error_at = NULL "  # noqa: S608
            "WHERE project_id = %s AND last_error <> ''",
            [self.target.project_id],
        )


def _scalar(connection: psycopg.Connection[Any], query: str) -> Any:
    row = connection.execute(query).fetchone()
    if row is None:
        raise SourceError("The database answered a query with no row.")
    return row[0]


def quote_publication(name: str) -> str:
    """pgoutput's publication_names option is a list of identifiers: quote this one as SQL does."""
    return sql.Identifier(name).as_string(None)


class CaptureWorker:
    """The supervisor: one ProjectCapture per enabled project, usage flushing and retention."""

    def __init__(
        self, *, refresh: float | None = None, on_change: Callable[[str], None] | None = None
    ) -> None:
        self.refresh = settings.PULSE_WORKER_REFRESH if refresh is None else refresh
        self.meter = Meter("pulse")
        self.stop_event = threading.Event()
        self.captures: dict[uuid.UUID, ProjectCapture] = {}
        self.on_change = on_change or (lambda message: None)

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        from pulse.services import pulse_events_prune

        last_prune = 0.0
        while not self.stop_event.is_set():
            try:
                self.sync(pulse_capture_targets())
                self.meter.flush()
                if time.monotonic() - last_prune > settings.PULSE_PRUNE_INTERVAL:
                    pruned = pulse_events_prune(
                        before=dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.PULSE_RETENTION_DAYS)
                    )
                    if pruned:
                        days = settings.PULSE_RETENTION_DAYS
                        self.on_change(f"Pruned {pruned} events older than {days} days.")
                    last_prune = time.monotonic()
            except Exception:
                log.exception("the Pulse worker could not read its configuration; retrying")
                close_old_connections()
                connections.close_all()
            self.stop_event.wait(self.refresh)
        for capture in self.captures.values():
            capture.stop()
        for capture in self.captures.values():
            capture.join(10)
        try:
            self.meter.flush()
        except Exception:
            log.exception("could not write Pulse usage at shutdown")
        connections.close_all()

    def sync(self, targets: dict[uuid.UUID, CaptureTarget]) -> None:
        """Start readers for newly enabled projects; stop those of disabled or re-enabled ones."""
        for project_id, capture in list(self.captures.items()):
            target = targets.get(project_id)
            if target is None or target.version != capture.target.version or not capture.is_alive():
                capture.stop()
                del self.captures[project_id]
                self.on_change(f"Stopped capturing project {project_id}.")
        for project_id, target in targets.items():
            if project_id not in self.captures:
                capture = ProjectCapture(target, meter=self.meter, worker_stop=self.stop_event)
                self.captures[project_id] = capture
                capture.start()
                self.on_change(f"Capturing project {project_id} (slot {target.slot_name}).")
