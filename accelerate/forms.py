from __future__ import annotations

from typing import Any

from django import forms

from accelerate.models import (
    CONNECTION_LIMIT,
    POOL_TIMEOUT_SECONDS,
    QUERY_TIMEOUT_SECONDS,
    RESPONSE_SIZE_LIMIT_MB,
)
from userdb.connection_strings import EXAMPLE, MAX_LENGTH, InvalidConnectionString, parse
from userdb.regions import region_choices, region_recommend

AUTOMATIC = ""


def _bounded(label: str, bounds: tuple[int, int, int], unit: str, help_text: str) -> forms.IntegerField:
    low, high, default = bounds
    return forms.IntegerField(
        label=f"{label} ({unit})" if unit else label,
        min_value=low,
        max_value=high,
        initial=default,
        help_text=f"{help_text} {low}–{high}; default {default}.",
    )


class AccelerateConfigForm(forms.Form):
    """Configure Accelerate (or, with ``editing=True``, change its configuration).

    The connection string is write-only: it is never rendered back, so editing leaves it
    empty to keep the stored one. The region may be left to the host name ("closest to
    the database"): that is the answer without JavaScript; with it, the field updates as
    the user types.
    """

    connection_string = forms.CharField(
        label="Database connection string",
        max_length=MAX_LENGTH,
        strip=True,
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": EXAMPLE},
        ),
        help_text="A PostgreSQL URL. It is checked by connecting to the database, then stored encrypted "
        "and never shown again.",
    )
    region = forms.ChoiceField(
        label="Region",
        help_text="Where the connection pool runs. Choose the region closest to your database.",
    )
    connection_limit = _bounded(
        "Connection limit", CONNECTION_LIMIT, "", "Connections the pool opens at most:"
    )
    pool_timeout_seconds = _bounded(
        "Pool timeout", POOL_TIMEOUT_SECONDS, "seconds", "How long a query waits for a free connection:"
    )
    query_timeout_seconds = _bounded(
        "Query timeout", QUERY_TIMEOUT_SECONDS, "seconds", "How long a query may run:"
    )
    response_size_limit_mb = _bounded(
        "Response size limit", RESPONSE_SIZE_LIMIT_MB, "MB", "The largest result a query may return:"
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        choices = region_choices()
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)  # noqa: S101 -- narrows the type
        if editing:
            self.fields["connection_string"].required = False
            self.fields["connection_string"].help_text = (
                "Leave empty to keep the current database. A new connection string is checked "
                "by connecting to it before it replaces the current one."
            )
            region.choices = choices
        else:
            region.choices = [(AUTOMATIC, "Closest to my database (from its host name)"), *choices]
            region.required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.editing and cleaned.get("region") == AUTOMATIC and cleaned.get("connection_string"):
            try:
                host = parse(cleaned["connection_string"]).host
            except InvalidConnectionString:
                return cleaned  # the service names the problem with the string
            recommendation = region_recommend(host)
            if recommendation is None:
                self.add_error(
                    "region",
                    "The host name does not tell where the database is: choose the region closest to it.",
                )
            else:
                cleaned["region"] = recommendation.region
        return cleaned
