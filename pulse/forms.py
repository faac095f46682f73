from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from userdb.regions import region_choices


class WriteOnlyTextInput(forms.TextInput):
    """A text input that never renders its value back: connection strings carry passwords. With
    htmx the browser keeps what was typed when the form comes back with an error (hx-preserve)."""

    def format_value(self, value: Any) -> str | None:
        return None


class PulseDatabaseForm(forms.Form):
    """The connection string and tables, for "Check database" and "Enable Pulse" alike.

    "Use the demo database" (``use_demo_database``, the embedded mode) leaves the connection
    string to the view, which takes it from the demo.
    """

    connection_string = forms.CharField(
        label="Database connection string",
        max_length=2048,
        strip=True,
        required=False,  # unless the demo database is used: see clean()
        widget=WriteOnlyTextInput(
            attrs={
                "hx-preserve": "true",
                "placeholder": "postgresql://USER:PASSWORD@HOST:5432/DATABASE",
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
        help_text=(
            "PostgreSQL only; MySQL is not supported yet. It is stored encrypted and never shown again."
        ),
    )
    tables = forms.CharField(
        label="Tables (optional)",
        required=False,
        max_length=4000,
        widget=forms.TextInput(attrs={"placeholder": "orders, sales.items", "spellcheck": "false"}),
        help_text=(
            "Comma-separated; leave empty to cover all tables (creating that publication needs a superuser)."
        ),
    )
    use_demo_database = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("use_demo_database") and not cleaned.get("connection_string"):
            self.add_error("connection_string", "Enter the connection string of your database.")
        return cleaned


def _default_region() -> str:
    """The gateway's own region when offered (right for a database on this machine), else none."""
    return settings.GATEWAY_REGION if settings.GATEWAY_REGION in dict(settings.ACCELERATE_REGIONS) else ""


class PulseEnableForm(PulseDatabaseForm):
    region = forms.ChoiceField(
        label="Region",
        choices=region_choices,
        initial=_default_region,
        help_text=(
            "Choose the region nearest your database: it minimizes latency between Pulse and the database."
        ),
    )
