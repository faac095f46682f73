from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from console import services
from console.audit import client_ip


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's login form, refusing an account or IP after repeated failures for a while."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Check both and try again.",
        "locked": "Too many failed attempts. For your security, signing in is paused for %(wait)s. "
        "Try again then.",
    }

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username") or ""
        ip_address = client_ip(self.request) if self.request else None
        wait = services.login_lockout_remaining(email=email, ip_address=ip_address)
        if wait:
            minutes = max(1, round(wait / 60))
            raise ValidationError(
                self.error_messages["locked"],
                code="locked",
                params={"wait": f"{minutes} minute{'s' if minutes != 1 else ''}"},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            services.login_failure_record(email=email, ip_address=ip_address)
            raise
        services.login_failures_clear(email=email)
        return cleaned


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=100, strip=True)
    slug = forms.SlugField(
        label="URL slug",
        max_length=50,
        required=False,
        help_text="Lowercase letters, digits and hyphens. Leave empty to derive it from the name.",
    )
