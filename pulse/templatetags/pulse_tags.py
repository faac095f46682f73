from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

MAX_CHARS = 300


@register.filter
def pulse_payload(payload: Any) -> str:
    """An event's payload as compact JSON for the live tail, cut short when long."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
