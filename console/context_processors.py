from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from console import selectors


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The organizations in the switcher; one query, only for signed-in pages."""
    if not request.user.is_authenticated:
        return {}
    return {"nav_memberships": selectors.memberships_for_user(user=request.user)}
