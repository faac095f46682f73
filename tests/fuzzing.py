"""What the property tests throw at every form and endpoint, and what they require back.

Every form gets arbitrary text in every field (and the usual suspects: NUL bytes, markup,
template syntax, SQL, huge numbers, very long strings) and must never answer a server
error nor echo markup unescaped. Connection strings always point at 127.0.0.1:1 (nothing
listens there) or at an address the guard refuses, so no example sends traffic off this machine.
"""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The tag no page may contain: it appears only if a value was rendered without escaping.
MARKUP = "<x-fuzz"

NASTY = [
    "",
    " ",
    "\x00",
    "name\x00with nul",
    "<x-fuzz>",
    "\"'><x-fuzz onmouseover=alert(1)>",
    "{{ 7|add:7 }}{% debug %}",
    "' OR 1=1 --",
    "%00%ff",
    "../../etc/passwd",
    "\u202egnp.exe",
    "a" * 5000,
    "😀" * 300,
    "-1",
    "0",
    "99999999999999999999999",
    "NaN",
    "1e309",
    "postgresql://app:pw@127.0.0.1:1/app",
    "postgresql://app:pw@169.254.169.254:5432/app",
    "postgresql://app:pw@[::1",
    "mysql://app:pw@127.0.0.1:1/app",
    "prisma://127.0.0.1:1/?api_key=x",
]

# Any text a browser can send (lone surrogates cannot be encoded as UTF-8, so no form carries them).
text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300),
)

# Every generated password starts with this: no page may ever show it.
PASSWORD_MARK = "Pw0rdMark"

# Connection strings that parse (or nearly do), with arbitrary parts, all on loopback port 1.
_part = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40).map(
    lambda value: quote(value, safe="")
)
connection_strings = st.one_of(
    text,
    st.builds(
        lambda user, password, database, sslmode: (
            f"postgresql://{user}:{PASSWORD_MARK}{password}@127.0.0.1:1/{database}?sslmode={sslmode}"
        ),
        _part,
        _part,
        _part,
        st.sampled_from(["disable", "require", "verify-full", "bogus", ""]),
    ),
)

# Modest example counts: the whole suite, browser tests included, stays within a couple of minutes.
FORM_EXAMPLES = 30
forms = settings(
    max_examples=FORM_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_handled(response) -> None:
    """Not a server error, and nothing the fuzzer sent came back as live markup."""
    assert response.status_code < 500, response.status_code
    if not getattr(response, "streaming", False):
        assert MARKUP.encode() not in response.content


def assert_password_not_shown(response) -> None:
    """The connection string is write-only: its password never comes back."""
    assert PASSWORD_MARK.encode() not in response.content
