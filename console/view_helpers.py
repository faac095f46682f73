"""What every console view repeats, written once, so a view reads: get the object, call the
service, render.

- ``organization_scope``: the user's membership of the organization in the URL (404 for anyone
  else) and, when an action is named, the role check (403).
- ``page_context``: what every organization page gets (the membership and the organization).
- ``form_errors_add``: a service's ``ValidationError`` shown on the form, on its field when the
  form has one.
- ``render_form``: the page, or just the form's partial when htmx posted it.
- ``modal_done``: the one way a dialog finishes (docs/architecture.md, "Modals"): the message is
  flashed and the browser goes to ``url`` (htmx: a client redirect; without JavaScript: a
  redirect), where the changed list is shown as it now is.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

from console import selectors
from console.http import AuthenticatedRequest, HtmxHttpRequest
from console.models import Membership
from console.permissions import Action, require


def organization_scope(
    request: AuthenticatedRequest, organization_slug: str, *, action: Action | None = None
) -> Membership:
    """The signed-in user's membership of this organization (404 if none); 403 if ``action``
    is named and the role does not allow it."""
    membership = selectors.membership_for_user(user=request.user, organization_slug=organization_slug)
    if action is not None:
        require(membership, action)
    return membership


def page_context(membership: Membership, **extra: Any) -> dict[str, Any]:
    return {"membership": membership, "organization": membership.organization, **extra}


def form_errors_add(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has one."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def render_form(
    request: HtmxHttpRequest, template: str, partial: str, context: dict[str, Any]
) -> HttpResponse:
    """The whole page, or only ``template#partial`` when htmx posted the form (it swaps itself)."""
    if request.htmx and request.method == "POST":
        return render(request, f"{template}#{partial}", context)
    return render(request, template, context)


def modal_done(
    request: HttpRequest, url: str, message: str = "", *, level: int = messages.SUCCESS
) -> HttpResponse:
    """After a dialog's form succeeded: flash ``message`` and show ``url``."""
    if message:
        messages.add_message(request, level, message)
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)
