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
# Most of a key is enough to use a checksum-less guess: anything from the prefix and 16 characters on.
_KEY = re.compile(rf"{re.escape(KEY_PREFIX)}[0-9A-Za-z]{{16,{RANDOM_LENGTH + 16}}}")
_KEY_PARAMETER = re.compile(r"(api_key=)[^\s&\"']+", re.IGNORECASE)
_BEARER = re.compile(r"(bearer\s+)[^\s\"',]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with request query strings, API keys and bearer tokens replaced."""
    text = _REQUEST_QUERY.sub(r"\1", text)
    text = _KEY.sub(KEY_PREFIX + REDACTED, text)
    text = _KEY_PARAMETER.sub(r"\1" + REDACTED, text)
    return _BEARER.sub(r"\1" + REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """``logging.Formatter`` whose every finished line (message and traceback) goes through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
