from __future__ import annotations

from typing import Any

from django import forms

from accelerate.models import (
    CONNECTION_LIMIT,
    POOL_TIMEOUT_SECONDS,
    QUERY_TIMEOUT_SECONDS,
    RESPONSE_SIZE_LIMIT_MB,
)
from userdb.connection_strings import MAX_LENGTH, InvalidConnectionString, parse
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


def region_for(connection_string: str, chosen: str) -> str:
    """The region to configure: the one chosen, else the one the host recommends (the gateway's own
    for a database on this machine or a private network), else AUTOMATIC (the service then asks
    for one, after it has checked the connection string)."""
    if chosen != AUTOMATIC or not connection_string:
        return chosen
    try:
        host = parse(connection_string).host
    except InvalidConnectionString:
        return AUTOMATIC  # the service names the problem with the string
    recommendation = region_recommend(host)
    return recommendation.region if recommendation else AUTOMATIC


class AccelerateConfigForm(forms.Form):
    """Configure Accelerate (or, with ``editing=True``, change its configuration).

    The connection string is never rendered from what is stored; what the user typed is kept
    when the form comes back with an error. The region may be left to the host name ("closest
    to the database"): that is the answer without JavaScript; with it, the field updates as the
    user types. "Use the demo database" (``use_demo_database``, the embedded mode) leaves the
    connection string to the view, which takes it from the demo.
    """

    connection_string = forms.CharField(
        label="Database connection string",
        max_length=MAX_LENGTH,
        strip=True,
        required=False,  # required unless the demo database is used; the service says so
        help_text="A PostgreSQL URL. It is checked by connecting to the database, then stored encrypted "
        "and never shown again.",
    )
    use_demo_database = forms.BooleanField(required=False)
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
        self.chosen_region = AUTOMATIC
        choices = region_choices()
        region = self.fields["region"]
        assert isinstance(region, forms.ChoiceField)  # noqa: S101 -- narrows the type
        if editing:
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
        self.chosen_region = cleaned.get("region", AUTOMATIC)  # before the host's recommendation
        if not self.editing and "region" in cleaned:
            cleaned["region"] = region_for(cleaned.get("connection_string") or "", cleaned["region"])
        return cleaned
