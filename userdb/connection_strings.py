"""Connection strings to users' PostgreSQL databases: parse, redact, guard, check (DESIGN.md section 6).

Both products take a user's connection string, so this lives once, in the core:

- :func:`parse` accepts PostgreSQL URLs only (libpq's own parser, via psycopg's
  ``conninfo``), answers MySQL with "not supported yet", and refuses the libpq
  parameters that would bypass the address guard or read files on this server.
- :func:`redact` / :meth:`ConnectionString.redacted` is the only form ever shown back.
- :func:`resolve_allowed_address` is the SSRF guard: it resolves the host, refuses
  link-local and cloud-metadata addresses always, private ones unless
  ``ALLOW_PRIVATE_DATABASE_HOSTS``, and the console's own database server (its address
  and port, after resolution) in every mode; it returns the checked address, which callers
  pass as ``hostaddr`` so that a second DNS answer (rebinding) cannot swap it.
- :func:`connection_check` connects within a deadline and runs ``SELECT 1``.

Every error raised here is a :class:`ConnectionStringError` whose message is written
here, never copied from libpq (whose parse errors can quote the password), and is safe
to show a user.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import psycopg
from django.conf import settings
from psycopg import conninfo

logger = logging.getLogger(__name__)

MAX_LENGTH = 2048
DEFAULT_PORT = 5432
POSTGRESQL_SCHEMES = frozenset({"postgresql", "postgres"})
MYSQL_SCHEMES = frozenset({"mysql", "mysql2", "mysqlx", "mariadb"})
EXAMPLE = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"

# libpq parameters a user may add. Everything else is refused: `host`/`hostaddr` would
# bypass the guard, file parameters (sslrootcert, passfile, service, ...) would read files
# on the console's server.
LIBPQ_PARAMETERS = frozenset(
    {
        "sslmode",
        "sslnegotiation",
        "application_name",
        "options",
        "channel_binding",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    }
)
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Prisma ORM's own URL parameters. `schema` is kept (the gateway sets search_path); the
# others are Prisma's client-side pool settings, which the products' own settings replace.
PRISMA_SCHEMA = "schema"
PRISMA_IGNORED = frozenset(
    {
        "connection_limit",
        "pool_timeout",
        "pgbouncer",
        "statement_cache_size",
        "socket_timeout",
        "connect_timeout",
    }
)
FILE_PARAMETERS = frozenset(
    {"sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "sslpassword", "sslidentity", "sslaccept"}
)

# Cloud metadata endpoints. The link-local ones are refused as link-local anyway; these
# others are ordinary-looking addresses that must never be reached either.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6 instance metadata
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_HOST_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
_PARAMETER_NAME = re.compile(r"[a-z_]{1,40}")


class ConnectionStringError(Exception):
    """A connection string was refused or its database could not be used.

    ``message`` is safe to show to the user: it never contains the password.
    ``code`` names the case for callers and tests.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidConnectionString(ConnectionStringError):
    """The text is not an acceptable PostgreSQL connection string."""


class DatabaseHostNotAllowed(ConnectionStringError):
    """The host resolves to an address the console must not connect to."""


class DatabaseConnectionFailed(ConnectionStringError):
    """Connecting to the database or running the check query failed."""


@dataclass(frozen=True)
class ConnectionString:
    """A parsed, acceptable PostgreSQL connection string. ``str()`` and ``repr()`` hide the password."""

    host: str
    port: int
    database: str
    user: str
    password: str = field(repr=False)
    parameters: tuple[tuple[str, str], ...] = ()
    schema: str | None = None

    def __str__(self) -> str:
        return self.redacted()

    @property
    def sslmode(self) -> str | None:
        return dict(self.parameters).get("sslmode")

    @property
    def address(self) -> str:
        """HOST:PORT, as people write it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def redacted(self) -> str:
        """``postgresql://app:••••@db.example.com:5432/app``: the only form ever shown back."""
        userinfo = quote(self.user, safe="") + (":••••" if self.password else "") + "@"
        shown = [(name, value) for name, value in self.parameters if name == "sslmode"]
        if self.schema:
            shown.append((PRISMA_SCHEMA, self.schema))
        query = "&".join(f"{name}={quote(value, safe='')}" for name, value in shown)
        return f"postgresql://{userinfo}{self.address}/{quote(self.database, safe='')}" + (
            f"?{query}" if query else ""
        )

    def connect_kwargs(self, *, hostaddr: str, connect_timeout: float) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` that reach exactly ``hostaddr``.

        ``host`` stays the name (TLS verification and SNI use it); ``hostaddr`` is the
        address :func:`resolve_allowed_address` checked. Nothing is taken from this
        server's environment or files: no PGPASSWORD, ~/.pgpass, client certificate or
        Kerberos ticket of the console's own is offered to a user's server.
        """
        kwargs: dict[str, Any] = {
            "host": self.host,
            "hostaddr": hostaddr,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            # An explicit (possibly empty) password keeps libpq from reading PGPASSWORD.
            "password": self.password,
            # A path that cannot exist (ENOTDIR), so ~/.pgpass and PGPASSFILE are never read.
            "passfile": "/dev/null/pgpass",
            "sslcertmode": "disable",
            "gssencmode": "disable",
            "connect_timeout": max(2, math.ceil(connect_timeout)),
            **dict(self.parameters),
        }
        if kwargs.get("sslmode") in ("verify-ca", "verify-full"):
            kwargs["sslrootcert"] = "system"
        return kwargs

    def with_port(self, port: int) -> str:
        """This connection string, password included, with another port: what a service stores
        (encrypted) when the same server moved to a new port. Prisma's pool parameters, which
        the products ignore, are left out."""
        userinfo = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = [(name, value) for name, value in self.parameters]
        if self.schema:
            query.append((PRISMA_SCHEMA, self.schema))
        text = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in query)
        return f"postgresql://{userinfo}@{host}:{port}/{quote(self.database, safe='')}" + (
            f"?{text}" if text else ""
        )


def _invalid(code: str, message: str) -> InvalidConnectionString:
    return InvalidConnectionString(code, message)


def _split_prisma_parameters(text: str) -> tuple[str, str | None]:
    """Remove Prisma ORM's own URL parameters, which libpq rejects; return the rest and ``schema``.

    The query is what follows the last ``?`` when that part has no ``@`` or ``/``: libpq
    reads a ``?`` before the ``@`` as part of the password, so the same rule keeps a
    password that contains ``?`` intact.
    """
    head, separator, query = text.rpartition("?")
    if not separator or "@" in query or "/" in query:
        return text, None
    kept: list[str] = []
    schema: str | None = None
    for pair in query.split("&"):
        name = unquote(pair.partition("=")[0])
        if name == PRISMA_SCHEMA:
            schema = unquote(pair.partition("=")[2]) or None
        elif name not in PRISMA_IGNORED and pair:
            kept.append(pair)
    return head + ("?" + "&".join(kept) if kept else ""), schema


def parse(text: str) -> ConnectionString:
    """Parse a PostgreSQL URL (``postgres://`` or ``postgresql://``) that names a host and a database.

    Raises InvalidConnectionString with a message that never repeats the password.
    """
    text = text.strip()
    if len(text) > MAX_LENGTH:
        raise _invalid("too_long", f"The connection string is too long (at most {MAX_LENGTH:,} characters).")
    scheme = text.partition("://")[0].lower() if "://" in text else ""
    if scheme in MYSQL_SCHEMES:
        raise _invalid("mysql", "MySQL is not supported yet. Enter a PostgreSQL connection string.")
    if scheme not in POSTGRESQL_SCHEMES:
        raise _invalid("not_postgresql", f"Enter a PostgreSQL connection string: {EXAMPLE}.")
    libpq_text, schema = _split_prisma_parameters(text)
    try:
        values = conninfo.conninfo_to_dict(libpq_text)
    except (psycopg.Error, UnicodeDecodeError):
        # libpq's message can quote part of the password (a bad %-escape in it): never show it.
        raise _invalid(
            "malformed",
            f"This is not a valid connection string ({EXAMPLE}; "
            "percent-encode special characters in the password).",
        ) from None
    for name in values:
        if name in ("user", "password", "dbname", "host", "port") or name in LIBPQ_PARAMETERS:
            continue
        shown = name if _PARAMETER_NAME.fullmatch(name) else "this"
        if name == "hostaddr":
            raise _invalid(
                "parameter", "Put the database host after the @; the hostaddr parameter is not supported."
            )
        if name in FILE_PARAMETERS or name in ("passfile", "service", "servicefile"):
            raise _invalid(
                "parameter",
                f"The {shown} parameter is not supported: it names a file on the console's server.",
            )
        raise _invalid("parameter", f"The {shown} parameter is not supported in a connection string here.")

    host = str(values.get("host") or "")
    if not host:
        raise _invalid("no_host", f"The connection string must name a host: {EXAMPLE}.")
    if "," in host or "," in str(values.get("port") or ""):
        raise _invalid("several_hosts", "Give one database host; lists of hosts are not supported.")
    if host.startswith("/") or host.startswith("@"):
        raise _invalid("socket", "Give a host name or IP address; Unix sockets are not supported.")
    if not _valid_host(host):
        raise _invalid(
            "bad_host", "The host is not a valid host name or IP address (percent-encode the password)."
        )
    port_text = str(values.get("port") or DEFAULT_PORT)
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise _invalid("bad_port", "The port must be a number from 1 to 65535.")
    database = str(values.get("dbname") or "")
    if not database:
        raise _invalid("no_database", f"The connection string must name a database: {EXAMPLE}.")
    if "@" in database or "/" in database or len(database) > 63:
        raise _invalid(
            "bad_database",
            "The database name is not valid (percent-encode / and @ in the password).",
        )
    user = str(values.get("user") or "")
    if not user:
        raise _invalid("no_user", f"The connection string must include a user name: {EXAMPLE}.")
    sslmode = values.get("sslmode")
    if sslmode is not None and sslmode not in SSL_MODES:
        raise _invalid("bad_sslmode", f"sslmode must be one of: {', '.join(SSL_MODES)}.")
    parameters = tuple((name, str(value)) for name, value in values.items() if name in LIBPQ_PARAMETERS)
    return ConnectionString(
        host=host,
        port=int(port_text),
        database=database,
        user=user,
        password=str(values.get("password") or ""),
        parameters=parameters,
        schema=schema,
    )


def _valid_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOSTNAME.fullmatch(host))
    # Zone ids (fe80::1%eth0) name an interface of this server.
    return "%" not in str(address)


def redact(text: str) -> str:
    """The connection string with its password replaced by ``••••``; a placeholder if it does not parse."""
    try:
        return parse(text).redacted()
    except InvalidConnectionString:
        return "(not a valid connection string)"


# --- The address guard --------------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64): each is checked too."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
    if address in NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [candidate for candidate in embedded if candidate is not None]


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """Why the console must not connect to this IP address, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates = [ip, *_embedded_ipv4(ip)]
    if any(candidate in METADATA_ADDRESSES or candidate.is_link_local for candidate in candidates):
        return "a link-local or cloud metadata address"
    if any(candidate.is_multicast for candidate in candidates):
        return "a multicast address"
    if not allow_private and any(not candidate.is_global for candidate in candidates):
        return "a private, loopback or reserved address"
    return None


def check_addresses(
    host: str,
    addresses: list[str],
    *,
    port: int | None = None,
    allow_private: bool | None = None,
    console_addresses: ConsoleAddresses | None = None,
) -> str:
    """The first address, once every address the host resolved to has been allowed.

    All of them are checked, not only the first: a name that resolves to one public and
    one metadata address must not pass on the order of the answers. With ``port``, an
    address that reaches the console's own database server on that port is refused too
    (see :func:`console_server_refusal`).
    """
    if allow_private is None:
        allow_private = settings.ALLOW_PRIVATE_DATABASE_HOSTS
    if not addresses:
        raise DatabaseConnectionFailed("unresolvable", f"The host name {host} could not be resolved.")
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason is not None:
            raise DatabaseHostNotAllowed(
                "address_not_allowed",
                f"The host {host} resolves to {reason}, which the console does not connect to.",
            )
    if port is not None:
        if console_addresses is None:
            console_addresses = console_server_addresses()
        console_server_refusal(host, addresses, port, console_addresses)
    return addresses[0]


# --- The console's own database server ------------------------------------------------------
#
# A user's connection string must never reach the database the console keeps its own data in:
# with the console's credentials unknown, it would still be one password guess, one trust rule,
# one superuser away from every tenant's records. So the host and port are compared after
# resolution, in every mode: the same address and port as the console's database is refused,
# and when that server runs on this machine, so is any address of this machine on its port
# (127.0.0.1, 127.0.0.2 and the rest of 127/8, ::1, 0.0.0.0, ::, the IPv4-mapped forms, the
# machine's own interface addresses) — they all reach a server listening on loopback or on all
# interfaces.

CONSOLE_ADDRESSES_TTL = 30.0


@dataclass(frozen=True)
class ConsoleAddresses:
    """Where the console's own database listens: its port, and its addresses (``None``: this
    machine, any of its addresses)."""

    port: int
    addresses: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address] | None
    host: str


_console_cache: dict[tuple[str, int], tuple[float, ConsoleAddresses]] = {}


def _ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(address.split("%", 1)[0])


def _bindable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether the address is one of this machine's own (binding to it succeeds; nothing is sent)."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((str(address), 0))
    except OSError:
        return False
    return True


def is_this_machine(address: str) -> bool:
    """Whether connecting to the address reaches this machine: loopback (all of 127/8, ::1), the
    unspecified address (0.0.0.0 and :: connect to loopback), their IPv4-mapped and other
    embedded forms, and the addresses of this machine's interfaces."""
    ip = _ip(address)
    candidates = [ip, *_embedded_ipv4(ip)]
    return any(candidate.is_loopback or candidate.is_unspecified for candidate in candidates) or any(
        _bindable(candidate) for candidate in candidates
    )


def points_at_this_machine(text: str, port: int) -> bool:
    """Whether the connection string names this machine (by any name or address) and this port:
    the strings to update when a server on this machine moved to another port."""
    try:
        parsed = parse(text)
        if parsed.port != port:
            return False
        answers = socket.getaddrinfo(
            parsed.host, parsed.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (ConnectionStringError, socket.gaierror, UnicodeError):
        return False
    addresses = _unique_addresses(answers)
    return bool(addresses) and all(is_this_machine(address) for address in addresses)


def _console_server() -> tuple[str, int]:
    database = settings.DATABASES["default"]
    return str(database.get("HOST") or ""), int(database.get("PORT") or DEFAULT_PORT)


def _console_addresses_from(host: str, port: int, answers: list[str] | None) -> ConsoleAddresses:
    if not host or host.startswith("/") or answers is None:
        # A Unix socket is this machine; an unresolvable name cannot be told apart, so it is too.
        return ConsoleAddresses(port=port, addresses=None, host=host)
    if any(is_this_machine(address) for address in answers):
        return ConsoleAddresses(port=port, addresses=None, host=host)
    return ConsoleAddresses(port=port, addresses=frozenset(_ip(address) for address in answers), host=host)


def _console_cached(host: str, port: int) -> ConsoleAddresses | None:
    cached = _console_cache.get((host, port))
    if cached is not None and time.monotonic() - cached[0] < CONSOLE_ADDRESSES_TTL:
        return cached[1]
    return None


def console_server_addresses() -> ConsoleAddresses:
    """Where the console's own database server listens (resolved; kept for 30 seconds)."""
    host, port = _console_server()
    cached = _console_cached(host, port)
    if cached is not None:
        return cached
    answers: list[str] | None = None
    if host and not host.startswith("/"):
        try:
            answers = _unique_addresses(
                socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
            )
        except (socket.gaierror, UnicodeError):
            answers = None
    found = _console_addresses_from(host, port, answers)
    _console_cache[(host, port)] = (time.monotonic(), found)
    return found


async def console_server_addresses_async() -> ConsoleAddresses:
    """As console_server_addresses, without blocking the event loop."""
    host, port = _console_server()
    cached = _console_cached(host, port)
    if cached is not None:
        return cached
    answers: list[str] | None = None
    if host and not host.startswith("/"):
        try:
            answers = _unique_addresses(
                await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
                )
            )
        except (socket.gaierror, UnicodeError):
            answers = None
    found = _console_addresses_from(host, port, answers)
    _console_cache[(host, port)] = (time.monotonic(), found)
    return found


def console_server_refusal(host: str, addresses: list[str], port: int, console: ConsoleAddresses) -> None:
    """Raise DatabaseHostNotAllowed when host:port (resolved to addresses) is the console's own
    database server."""
    if port != console.port:
        return
    for address in addresses:
        ip = _ip(address)
        if console.addresses is None:
            reached = is_this_machine(address)
        else:
            reached = any(candidate in console.addresses for candidate in [ip, *_embedded_ipv4(ip)])
        if reached:
            raise DatabaseHostNotAllowed(
                "console_database",
                f"{host}:{port} is the console's own database server, which no project may use. "
                "Enter the connection string of a database server of your own"
                + (
                    " (or the demo database that `make run` prints)."
                    if getattr(settings, "EMBEDDED", False)
                    else "."
                ),
            )


def _unique_addresses(answers: list[tuple[Any, ...]]) -> list[str]:
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


def resolve_allowed_address(host: str, port: int, *, allow_private: bool | None = None) -> str:
    """Resolve the host (every address) and return the allowed address to connect to (see check_addresses)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DatabaseConnectionFailed(
            "unresolvable", f"The host name {host} could not be resolved."
        ) from None
    return check_addresses(host, _unique_addresses(answers), port=port, allow_private=allow_private)


async def resolve_allowed_address_async(host: str, port: int, *, allow_private: bool | None = None) -> str:
    """As resolve_allowed_address, without blocking the event loop."""
    loop = asyncio.get_running_loop()
    try:
        answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise DatabaseConnectionFailed(
            "unresolvable", f"The host name {host} could not be resolved."
        ) from None
    console = await console_server_addresses_async()
    return check_addresses(
        host, _unique_addresses(answers), port=port, allow_private=allow_private, console_addresses=console
    )


# --- The live check -----------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    """What the check learnt about the server."""

    version: str  # "15.4", as SHOW server_version says it
    version_num: int  # 150004, libpq's number (PostgreSQL >= 10: major * 10000 + minor)
    address: str  # the checked address that was connected to


def connection_check(target: str | ConnectionString, *, timeout: float = 5.0) -> ServerInfo:
    """Resolve and guard the host, connect, run ``SELECT 1``, all within ``timeout`` seconds.

    Raises InvalidConnectionString, DatabaseHostNotAllowed or DatabaseConnectionFailed,
    each with a safe message. For synchronous callers (views, commands); async code calls
    :func:`connection_check_async`.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(connection_check_async(target, timeout=timeout))
    # Called from a thread that runs an event loop (a sync API over asyncio): use another thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, connection_check_async(target, timeout=timeout)).result()


async def connection_check_async(target: str | ConnectionString, *, timeout: float = 5.0) -> ServerInfo:
    """As connection_check. The deadline covers DNS, connecting, TLS and the query."""
    parsed = parse(target) if isinstance(target, str) else target
    try:
        async with asyncio.timeout(timeout):
            address = await resolve_allowed_address_async(parsed.host, parsed.port)
            connection = await psycopg.AsyncConnection.connect(
                **parsed.connect_kwargs(hostaddr=address, connect_timeout=timeout)
            )
            try:
                async with connection.transaction(force_rollback=True):
                    await connection.execute(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
                    cursor = await connection.execute("SELECT 1, current_setting('server_version')")
                    row = await cursor.fetchone()
                version_num = connection.info.server_version
            finally:
                await connection.close()
    except TimeoutError:
        failure = DatabaseConnectionFailed(
            "timeout", f"The database at {parsed.address} did not answer within {timeout:g} seconds."
        )
        logger.info("Connection check to %s failed: %s", parsed.redacted(), failure.code)
        raise failure from None
    except psycopg.Error as error:
        failure = connection_failure(error, parsed)
        logger.info("Connection check to %s failed: %s", parsed.redacted(), failure.code)
        raise failure from None
    assert row is not None  # noqa: S101 -- SELECT 1 returns a row
    return ServerInfo(version=str(row[1]).split(" ")[0], version_num=version_num, address=address)


def connection_failure(error: psycopg.Error, parsed: ConnectionString) -> DatabaseConnectionFailed:
    """A safe, specific message for a psycopg error. libpq's own text is read, never repeated."""
    text = str(error).lower()
    sqlstate = getattr(error, "sqlstate", None)

    def failed(code: str, message: str) -> DatabaseConnectionFailed:
        return DatabaseConnectionFailed(code, message)

    if sqlstate == "3D000" or re.search(r'database ".*" does not exist', text):
        return failed(
            "database_does_not_exist", f"The database {parsed.database} does not exist on {parsed.address}."
        )
    if (
        sqlstate in ("28P01", "28000")
        and "pg_hba.conf" not in text
        or any(
            phrase in text
            for phrase in ("password authentication failed", "authentication failed", "no password supplied")
        )
    ):
        return failed(
            "authentication_failed", "Authentication failed: the database refused the user name or password."
        )
    if re.search(r'role ".*" does not exist', text):
        return failed(
            "authentication_failed", "Authentication failed: the database refused the user name or password."
        )
    if "server does not support ssl" in text:
        return failed(
            "tls_unavailable",
            "The database does not support TLS, but the connection string requires it "
            f"(sslmode={parsed.sslmode}).",
        )
    if any(
        phrase in text
        for phrase in ("ssl off", "no encryption", "ssl required", "ssl connection is required")
    ):
        return failed(
            "tls_required",
            "The database requires an encrypted connection (TLS): "
            "remove sslmode=disable or use sslmode=require.",
        )
    if "certificate" in text:
        return failed("tls_certificate", "The database's TLS certificate could not be verified.")
    if "pg_hba.conf" in text:
        return failed("not_permitted", "The database does not accept connections from the console's address.")
    if "timeout expired" in text or sqlstate == "57014":
        return failed("timeout", f"The database at {parsed.address} did not answer in time.")
    if "too many connections" in text or "remaining connection slots" in text or sqlstate == "53300":
        return failed("too_many_connections", "The database has no free connections (too many connections).")
    if any(phrase in text for phrase in ("starting up", "shutting down", "in recovery mode")):
        return failed(
            "not_ready", "The database is not accepting connections right now (starting up or shutting down)."
        )
    if isinstance(error, psycopg.OperationalError):
        return failed(
            "unreachable",
            f"Could not connect to the database at {parsed.address}: check the host and port, and that it "
            "accepts connections from the console.",
        )
    return failed("failed", "The check query failed on the database.")
