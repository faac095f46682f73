from __future__ import annotations

import logging
import re
import socket
import threading
import time
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from userdb.connection_strings import (
    ConnectionStringError,
    DatabaseConnectionFailed,
    DatabaseHostNotAllowed,
    InvalidConnectionString,
    address_refusal,
    check_addresses,
    connection_check,
    parse,
    redact,
    resolve_allowed_address,
)

# Passwords as people and generators make them: printable, any punctuation, long enough that
# finding one in an output is not a coincidence.
passwords = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=8, max_size=40
)


def test_redacted_form_hides_the_password():
    assert redact("postgresql://app:s3cret-pass@db.example.com:5432/app") == (
        "postgresql://app:••••@db.example.com:5432/app"
    )
    assert redact("postgres://app@db.example.com/app?sslmode=require") == (
        "postgresql://app@db.example.com:5432/app?sslmode=require"
    )
    assert (
        redact("postgresql://app:pw@[2001:db8::1]:6543/app") == "postgresql://app:••••@[2001:db8::1]:6543/app"
    )


def test_parse_reads_every_part():
    parsed = parse(
        "postgresql://app%40corp:p%2Fss@db.example.com:6543/sales?sslmode=verify-full&application_name=x"
    )
    assert (parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == (
        "app@corp",
        "p/ss",
        "db.example.com",
        6543,
        "sales",
    )
    assert parsed.sslmode == "verify-full"
    assert "p/ss" not in repr(parsed) and "p/ss" not in str(parsed)


def test_prisma_urls_are_accepted_and_keep_their_schema():
    parsed = parse("postgresql://app:pw@db.example.com/app?schema=shop&connection_limit=5&pgbouncer=true")
    assert parsed.schema == "shop"
    assert parsed.redacted() == "postgresql://app:••••@db.example.com:5432/app?schema=shop"


def test_a_question_mark_in_the_password_is_part_of_the_password():
    assert parse("postgresql://app:what?schema=x@db.example.com/app").password == "what?schema=x"


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("mysql://app:pw@db.example.com:3306/app", "mysql", "MySQL is not supported yet"),
        ("MySQL://app:pw@db.example.com/app", "mysql", "MySQL is not supported yet"),
        ("mongodb://app:pw@db.example.com/app", "not_postgresql", "Enter a PostgreSQL connection string"),
        ("host=db.example.com dbname=app", "not_postgresql", "Enter a PostgreSQL connection string"),
        ("prisma://accelerate.example.com/?api_key=x", "not_postgresql", "PostgreSQL"),
        ("", "not_postgresql", "PostgreSQL"),
        ("postgresql://app:pw@db.example.com", "no_database", "must name a database"),
        ("postgresql://app:pw@db.example.com/", "no_database", "must name a database"),
        ("postgresql://db.example.com/app", "no_user", "user name"),
        ("postgresql:///app", "no_host", "must name a host"),
        ("postgresql://app@/app?host=/var/run/postgresql", "socket", "Unix sockets"),
        ("postgresql://app@a.example.com,b.example.com/app", "several_hosts", "one database host"),
        ("postgresql://app@db.example.com:99999/app", "bad_port", "port"),
        ("postgresql://app@db.example.com/app?hostaddr=169.254.169.254", "parameter", "hostaddr"),
        ("postgresql://app@db.example.com/app?sslrootcert=/etc/passwd", "parameter", "file"),
        ("postgresql://app@db.example.com/app?passfile=/root/.pgpass", "parameter", "file"),
        ("postgresql://app@db.example.com/app?service=prod", "parameter", "file"),
        ("postgresql://app@db.example.com/app?target_session_attrs=any", "parameter", "not supported"),
        ("postgresql://app@db.example.com/app?sslmode=sometimes", "bad_sslmode", "sslmode"),
        ("postgresql://app@db.example.com/app?nonsense=1", "malformed", "not a valid connection string"),
        ("postgresql://app:" + "x" * 10_000 + "@db/app", "too_long", "too long"),
        ("postgresql://" + "\x00\x01junk" * 1000, "too_long", "too long"),
    ],
)
def test_bad_connection_strings_get_a_clear_message(text, code, message):
    with pytest.raises(InvalidConnectionString, match=message) as raised:
        parse(text)
    assert raised.value.code == code


@given(
    user=st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True),
    password=passwords,
    host=st.sampled_from(["db.example.com", "10.0.0.7", "2001:db8::7", "my_db"]),
    port=st.integers(1, 65535),
    database=st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True),
)
def test_round_trip_and_the_password_is_never_shown(user, password, host, port, database):
    assume(password not in f"postgresql {user} {host} {port} {database} sslmode require ••••")
    bracketed = f"[{host}]" if ":" in host else host
    url = (
        f"postgresql://{quote(user)}:{quote(password, safe='')}@{bracketed}:{port}/{database}?sslmode=require"
    )
    parsed = parse(url)
    assert (parsed.user, parsed.password, parsed.host, parsed.port, parsed.database) == (
        user,
        password,
        host,
        port,
        database,
    )
    assert parse(parsed.redacted().replace("••••", quote(password, safe=""))) == parsed
    for shown in (parsed.redacted(), redact(url), str(parsed), repr(parsed)):
        assert password not in shown
        assert quote(password, safe="") not in shown


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    password=passwords,
    suffix=st.sampled_from(["@db.example.com/app", "@db.example.com:5432/app?sslmode=x", ""]),
)
@example(password="5432/secretpart", suffix="@db.example.com/app")
@example(password="abc%zzsecret", suffix="@db.example.com/app")
@example(password="p@ssword-long", suffix="@db.example.com/app")
def test_a_password_typed_without_percent_encoding_never_appears_in_any_output(password, suffix):
    url = f"postgresql://app:{password}{suffix}"
    try:
        shown = [parse(url).redacted(), str(parse(url)), repr(parse(url))]
    except ConnectionStringError as error:
        shown = [error.message, str(error)]
    shown.append(redact(url))
    assume(password not in "postgresql app db.example.com 5432 app sslmode x ••••")
    # Nor any long piece of it: libpq splits an unencoded password at / and @ into other fields.
    pieces = [piece for piece in re.split(r"[/@:?#%]", password) if len(piece) >= 6]
    for text in shown:
        for piece in [password, *pieces]:
            assert piece not in text


_any_part = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
# Arbitrary text, arbitrary text after a scheme, and URLs whose every part is arbitrary (unencoded).
url_like = st.one_of(
    st.text(max_size=200),
    st.builds(
        str.__add__,
        st.sampled_from(["postgresql://", "postgres://", "POSTGRESQL://", "mysql://", "prisma://", ""]),
        st.text(max_size=200),
    ),
    st.builds(
        lambda user, password, host, port, database, query: (
            f"postgresql://{user}:{password}@{host}:{port}/{database}?{query}"
        ),
        _any_part,
        _any_part,
        st.one_of(
            st.sampled_from(["db.example.com", "10.0.0.7", "[2001:db8::7]", "[fe80::1%eth0]"]), _any_part
        ),
        st.one_of(st.integers(-1, 70000), _any_part),
        _any_part,
        st.one_of(
            st.sampled_from(
                [
                    "",
                    "sslmode=require",
                    "schema=app",
                    "sslmode=verify-full&schema=x&connection_limit=5&pool_timeout=3",
                    "sslrootcert=/etc/passwd",
                    "hostaddr=169.254.169.254",
                    "host=a,b",
                    "service=x",
                ]
            ),
            _any_part,
        ),
    ),
    st.builds(
        lambda user, password, database, query: (
            f"postgresql://{user}:{password}@db.example.com:5432/{database}?{query}"
        ),
        _any_part.map(lambda part: quote(part, safe="")),
        _any_part.map(lambda part: quote(part, safe="")),
        _any_part.map(lambda part: quote(part, safe="")),
        st.sampled_from(
            ["", "sslmode=require", "schema=app&sslmode=disable", "connection_limit=5&schema=a%20b"]
        ),
    ),
)

PARSER_EXAMPLES = 300


@settings(max_examples=PARSER_EXAMPLES)
@given(text=url_like)
def test_any_text_parses_or_is_refused_clearly_and_the_redacted_form_round_trips(text):
    try:
        parsed = parse(text)
    except InvalidConnectionString as refused:
        event(f"refused: {refused.code}")
        assert refused.message and refused.code
        assert redact(text) == "(not a valid connection string)"
        return
    event("parsed")
    shown = parsed.redacted()
    assert redact(text) == shown
    again = parse(shown)
    assert (again.host, again.port, again.database, again.user, again.sslmode, again.schema) == (
        parsed.host,
        parsed.port,
        parsed.database,
        parsed.user,
        parsed.sslmode,
        parsed.schema,
    )
    assert again.password == ("••••" if parsed.password else "")
    others = f"{parsed.host} {parsed.port} {parsed.database} {parsed.user} {parsed.schema} {parsed.sslmode}"
    if (
        len(parsed.password) >= 4
        and parsed.password not in others
        and parsed.password not in "postgresql ••••"
    ):
        for output in (shown, str(parsed), repr(parsed), redact(text)):
            assert parsed.password not in output
            assert quote(parsed.password, safe="") not in output


# --- the address guard -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.0.1",
        "fe80::1",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "168.63.129.16",
        "224.0.0.1",
    ],
)
def test_link_local_and_metadata_addresses_are_refused_always(address):
    assert address_refusal(address, allow_private=True) is not None
    assert address_refusal(address, allow_private=False) is not None


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "127.0.0.1",
        "::1",
        "0.0.0.0",  # noqa: S104
        "fd12:3456::1",
        "100.64.0.1",
    ],
)
def test_private_addresses_are_refused_unless_allowed(address):
    assert "private" in (address_refusal(address, allow_private=False) or "")
    assert address_refusal(address, allow_private=True) is None


def test_public_addresses_are_allowed():
    assert address_refusal("93.184.216.34", allow_private=False) is None
    assert address_refusal("2606:2800:220:1:248:1893:25c8:1946", allow_private=False) is None


def test_every_resolved_address_is_checked_not_only_the_first():
    with pytest.raises(DatabaseHostNotAllowed):
        check_addresses("db.example.com", ["93.184.216.34", "169.254.169.254"], allow_private=True)
    assert (
        check_addresses("db.example.com", ["93.184.216.34", "10.0.0.1"], allow_private=True)
        == "93.184.216.34"
    )


def test_a_name_that_resolves_to_loopback_is_refused_when_private_hosts_are_off(settings):
    settings.ALLOW_PRIVATE_DATABASE_HOSTS = False
    with pytest.raises(DatabaseHostNotAllowed, match="localhost resolves to a private"):
        resolve_allowed_address("localhost", 5432)
    settings.ALLOW_PRIVATE_DATABASE_HOSTS = True
    assert resolve_allowed_address("localhost", 5432) in ("127.0.0.1", "::1")


def test_the_check_refuses_the_metadata_address_before_connecting(settings):
    settings.ALLOW_PRIVATE_DATABASE_HOSTS = True
    started = time.monotonic()
    for host in ("169.254.169.254", "[fe80::1]"):
        with pytest.raises(DatabaseHostNotAllowed, match="link-local or cloud metadata"):
            connection_check(f"postgresql://app:pw@{host}:5432/app", timeout=5)
    assert time.monotonic() - started < 1


# --- the live check, against the real test database server ---------------------------------


@pytest.mark.django_db
def test_the_check_connects_and_reports_the_server_version(database_url):
    info = connection_check(database_url(), timeout=5)
    assert info.version_num >= 120000
    assert info.version.split(".")[0] == str(info.version_num // 10000)
    assert info.address in ("127.0.0.1", "::1")


@pytest.mark.django_db
def test_the_check_refuses_the_test_server_when_private_hosts_are_off(database_url, settings):
    settings.ALLOW_PRIVATE_DATABASE_HOSTS = False
    with pytest.raises(DatabaseHostNotAllowed, match="private, loopback"):
        connection_check(database_url(), timeout=5)


@pytest.mark.django_db
def test_a_missing_database_is_named(database_url):
    with pytest.raises(DatabaseConnectionFailed, match="database no_such_db does not exist") as raised:
        connection_check(database_url(database="no_such_db"), timeout=5)
    assert raised.value.code == "database_does_not_exist"


@pytest.mark.django_db
def test_an_unknown_user_is_an_authentication_failure(database_url):
    with pytest.raises(DatabaseConnectionFailed, match="Authentication failed") as raised:
        connection_check(database_url(user="nobody_here", password="hunter2-secret"), timeout=5)
    assert "hunter2-secret" not in raised.value.message


@pytest.mark.django_db
def test_requiring_tls_from_a_server_without_it_says_so(database_url):
    with pytest.raises(DatabaseConnectionFailed, match="does not support TLS") as raised:
        connection_check(database_url(query="sslmode=require"), timeout=5)
    assert raised.value.code == "tls_unavailable"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_closed_port_is_unreachable():
    with pytest.raises(DatabaseConnectionFailed, match="Could not connect") as raised:
        connection_check(f"postgresql://app:pw@127.0.0.1:{_free_port()}/app", timeout=5)
    assert raised.value.code == "unreachable"


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_database_that_hangs_on_connect_is_answered_within_the_timeout(silent_server):
    started = time.monotonic()
    with pytest.raises(DatabaseConnectionFailed, match="did not answer within 1.5 seconds") as raised:
        connection_check(f"postgresql://app:pw@127.0.0.1:{silent_server}/app", timeout=1.5)
    elapsed = time.monotonic() - started
    assert raised.value.code == "timeout"
    assert 1.4 < elapsed < 2.5


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=passwords)
def test_no_log_record_or_message_of_a_failed_check_contains_the_password(database_url, caplog, password):
    assume(password not in database_url(password="") + " no_such_db")
    caplog.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(DatabaseConnectionFailed) as raised:
        connection_check(database_url(password=password, database="no_such_db"), timeout=5)
    assert password not in raised.value.message
    for record in caplog.records:
        assert password not in record.getMessage()
        assert quote(password, safe="") not in record.getMessage()
