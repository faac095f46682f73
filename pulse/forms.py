from __future__ import annotations

from typing import Any

from django import forms

from userdb.regions import region_choices


class WriteOnlyTextInput(forms.TextInput):
    """A text input that never renders its value back: connection strings carry passwords."""

    def format_value(self, value: Any) -> str | None:
        return None


class PulseDatabaseForm(forms.Form):
    """The connection string and tables, for "Check database" and "Enable Pulse" alike."""

    connection_string = forms.CharField(
        label="Database connection string",
        max_length=2048,
        strip=True,
        widget=WriteOnlyTextInput(
            attrs={
                "placeholder": "postgresql://USER:PASSWORD@HOST:5432/DATABASE",
                "autocomplete": "off",
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


class PulseEnableForm(PulseDatabaseForm):
    region = forms.ChoiceField(
        label="Region",
        choices=region_choices,
        help_text=(
            "Choose the region nearest your database: it minimizes latency between Pulse and the database."
        ),
    )
