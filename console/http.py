"""Request types for views: what the middleware guarantees, said to the type checker."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from console.models import User


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


class AuthenticatedRequest(HtmxHttpRequest):
    """A request to a ``@login_required`` view: ``user`` is a signed-in console user."""

    user: User
