from __future__ import annotations

from django import template

from usage.charts import format_bytes, format_count

register = template.Library()


@register.filter
def compact_count(value: int) -> str:
    """``{{ n|compact_count }}``: 950, 1.2k, 34.5M."""
    return format_count(value)


@register.filter
def compact_bytes(value: int) -> str:
    """``{{ n|compact_bytes }}``: 512 B, 1.2 kB, 3.4 MB (decimal units)."""
    return format_bytes(value)


@register.filter
def exact_count(value: int) -> str:
    """``{{ n|exact_count }}``: 1,234."""
    return f"{value:,}"
