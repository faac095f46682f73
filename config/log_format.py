"""The one log format, with secrets taken out of every line (docs/security.md, "What is logged").

Applications may send their project API key as ``?api_key=`` (Prisma's connection strings do), and
the console shows such URLs. uvicorn's access log writes each request line with its query string,
and so would any traceback or message that quotes a URL. Rather than trust each logger, the
formatter of the one handler every logger writes to (Django's, the data plane's, uvicorn's:
``LOGGING`` in config/settings.py routes uvicorn's loggers to it) redacts the finished line,
traceback included:

- the query string of a request line (``"GET /path?… HTTP/1.1"``, ``"WebSocket /path?…"``): the
  console's own access log is the server's, minus query strings; the data plane has its own
  access log, which never had them (dataplane/middleware.py);
- the credential a console URL carries in its path — any URL argument named ``token``: the
  invitation, sign-up and password-reset links (``/invitations/[redacted]/``), wherever a path
  appears (uvicorn's request line, Django's "Not Found: /…"), found by resolving it against the
  console's URLs, so a new route with a ``token`` is covered too;
- anything shaped like an API key, and ``api_key=…`` or ``Authorization: Bearer …`` wherever they
  appear.
"""

from __future__ import annotations

import logging
import re

from projects.keys import KEY_PREFIX, RANDOM_LENGTH

REDACTED = "[redacted]"

# A request line as uvicorn writes it: the method (or "WebSocket") then the path; drop from "?".
_REQUEST_QUERY = re.compile(r'("(?:[A-Z]+|WebSocket) /[^\s?"]*)\?[^\s"]*')
# Anything that may be a URL path: from a "/" at the start of a word (a request line, Django's
# "Not Found: /path", a traceback's file names, which resolve to nothing and stay as they are).
_PATH = re.compile(r"""(?<![^\s"'(=])(/[^\s"'?<>()]*)""")
# URL arguments that are credentials (a link that works for whoever has it).
SECRET_URL_ARGUMENTS = frozenset({"token"})
# Most of a key is enough to use a checksum-less guess: anything from the prefix and 16 characters on.
_KEY = re.compile(rf"{re.escape(KEY_PREFIX)}[0-9A-Za-z]{{16,{RANDOM_LENGTH + 16}}}")
_KEY_PARAMETER = re.compile(r"(api_key=)[^\s&\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s\"',]+", re.IGNORECASE)


def _redact_path(path: str) -> str:
    """The path with the value of each secret URL argument replaced (unchanged if no console URL).
    A path without its final slash (which the console redirects) is matched as if it had one."""
    from django.apps import apps
    from django.urls import Resolver404, resolve

    if not apps.ready:  # a line logged while the apps load: the URLs cannot be imported yet
        return path
    match = None
    for candidate in (path, path + "/") if not path.endswith("/") else (path,):
        try:
            match = resolve(candidate)
            break
        except Resolver404:
            continue
        except Exception:  # no URLs configured, or they fail to import: leave the line as it is
            return path
    if match is None:
        return path
    for name, value in match.kwargs.items():
        if name in SECRET_URL_ARGUMENTS and isinstance(value, str) and value:
            path = path.replace(f"/{value}", f"/{REDACTED}")
    return path


def redact(text: str) -> str:
    """``text`` with request query strings, tokens in console paths, API keys and bearer tokens
    replaced."""
    text = _REQUEST_QUERY.sub(r"\1", text)
    text = _PATH.sub(lambda m: _redact_path(m.group(1)), text)
    text = _KEY.sub(KEY_PREFIX + REDACTED, text)
    text = _KEY_PARAMETER.sub(r"\1" + REDACTED, text)
    return _BEARER.sub(r"\1" + REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """``logging.Formatter`` whose every finished line (message and traceback) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
