"""The console's answer to an unexpected error: 503 while its database is unreachable, else 500.

Django calls ``server_error`` (``handler500`` in config/urls.py) for any exception no view
handled, in a view or in a middleware, and ``bad_request`` (``handler400``) when saving the
session failed. When the cause is the
console's database being unreachable (a restart, a failover), the honest answer is 503
with Retry-After: the request may simply be repeated in a moment. Neither page touches
the database, the session or the user.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

RETRY_AFTER_SECONDS = 5


def _database_unreachable(error: BaseException | None) -> bool:
    """Whether the error is, or was raised while handling, the database being unreachable."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OperationalError | InterfaceError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _unavailable() -> HttpResponse:
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    if _database_unreachable(sys.exc_info()[1]):
        return _unavailable()
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django answers 400 when saving the session fails (SessionInterrupted), whatever the cause;
    when the cause is the database being unreachable, it is a 503 like any other."""
    if _database_unreachable(exception):
        return _unavailable()
    return defaults.bad_request(request, exception)
