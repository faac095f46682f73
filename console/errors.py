"""The console's answer to an unexpected error: 503 while its database is unreachable, else 500.

Django calls ``server_error`` (``handler500`` in console/urls.py) for any exception no view
handled, in a view or in a middleware (e.g. saving the session). When the cause is the
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


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return defaults.server_error(request)
