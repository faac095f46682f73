"""Bar charts laid out on the server, drawn as SVG by ``templates/usage/_bar_chart.html``.

Every coordinate is computed here, so the template only places rectangles and text: no
JavaScript, no inline styles (colours come from CSS classes), and the same numbers feed
the tooltips (SVG ``<title>``) and the table shown under "Show as table".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "bytes"]

WIDTH = 480
HEIGHT = 210
PLOT_LEFT = 74
# Room on the right for the newest bucket's label, centred under the last bar ("Nov 30", "23:00").
PLOT_RIGHT = WIDTH - 24
PLOT_TOP = 10
PLOT_BOTTOM = HEIGHT - 40
MAX_X_LABELS = 6

_COUNT_UNITS = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
_BYTE_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))


def _short(value: float) -> str:
    """1.2, 12.3, 123: three significant digits at most, no trailing zeros."""
    text = f"{value:.0f}" if value >= 100 else f"{value:.1f}"
    return text.removesuffix(".0")


def _scaled(value: float, units: tuple[tuple[float, str], ...], separator: str) -> str | None:
    for threshold, suffix in units:
        if abs(value) >= threshold * 0.99995:  # 999,950 reads "1M", not "1000k"
            return f"{_short(value / threshold)}{separator}{suffix}"
    return None


def format_count(value: float) -> str:
    """A count for an axis or a summary: 950, 1.2k, 34.5M."""
    scaled = _scaled(value, _COUNT_UNITS, "")
    return scaled if scaled is not None else _short(value)


def format_bytes(value: float) -> str:
    """A size in decimal (SI) units, as network egress is billed: 512 B, 1.2 kB, 3.4 MB."""
    scaled = _scaled(value, _BYTE_UNITS, " ")
    return scaled if scaled is not None else f"{value:.0f} B"


def format_exact(value: int, unit: Unit = "count") -> str:
    """The exact number for tooltips and tables: 1,234 or 3.4 MB (3,412,345 bytes)."""
    if unit == "bytes":
        return f"{format_bytes(value)} ({value:,} byte{'' if value == 1 else 's'})"
    return f"{value:,}"


def format_value(value: float, unit: Unit) -> str:
    return format_bytes(value) if unit == "bytes" else format_count(value)


def nice_step(maximum: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 times a power of ten, at least 1) giving at most ``ticks`` ticks."""
    if maximum <= 0:
        return 1
    raw = maximum / ticks
    magnitude: float = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return max(step, 1)


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int]
    css_class: str  # "s0", "s1", "s2": the fill colour, from console.css


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    css_class: str


@dataclass(frozen=True)
class Column:
    """One bucket: its stacked bars, a full-height hover area and the tooltip text."""

    slot_x: float
    slot_width: float
    bar_x: float
    bar_width: float
    segments: list[Segment]
    label: str  # "Nov 26, 14:00–15:00 UTC"
    tooltip: str  # the label and every series' exact value, one per line
    cells: list[str]  # the exact values, for the table


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    description: str  # for screen readers: what the chart shows and its total
    unit: Unit
    series: list[Series]
    columns: list[Column]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    x_axis_title: str
    y_axis_title: str
    bucket_header: str  # the table's first column: "Hour (UTC)" or "Day (UTC)"
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = PLOT_LEFT
    plot_right: int = PLOT_RIGHT
    plot_top: int = PLOT_TOP
    plot_bottom: int = PLOT_BOTTOM

    @property
    def plot_height(self) -> int:
        return self.plot_bottom - self.plot_top

    @property
    def plot_middle_x(self) -> float:
        return (self.plot_left + self.plot_right) / 2

    @property
    def plot_middle_y(self) -> float:
        return (self.plot_top + self.plot_bottom) / 2

    @property
    def y_axis_title_y(self) -> float:
        return self.plot_middle_y

    @property
    def x_axis_title_y(self) -> int:
        return self.height - 6

    @property
    def x_tick_label_y(self) -> int:
        return self.plot_bottom + 16


def bucket_label(start: dt.datetime, granularity: Literal["hour", "day"]) -> str:
    """How a tooltip or table names a bucket: "Nov 26, 14:00–15:00 UTC" or "Thu, Nov 26, 2026 (UTC)"."""
    if granularity == "hour":
        end = start + dt.timedelta(hours=1)
        return f"{start:%b} {start.day}, {start:%H}:00–{end:%H}:00 UTC"
    return f"{start:%a}, {start:%b} {start.day}, {start:%Y} (UTC)"


def _x_tick_label(start: dt.datetime, granularity: Literal["hour", "day"]) -> str:
    if granularity == "hour" and start.hour != 0:
        return f"{start:%H}:00"
    return f"{start:%b} {start.day}"


def bar_chart(
    *,
    id: str,  # noqa: A002 - the element id the chart is drawn with
    title: str,
    buckets: Sequence[dt.datetime],
    granularity: Literal["hour", "day"],
    series: Sequence[Series],
    unit: Unit = "count",
    y_axis_title: str = "",
) -> BarChart:
    """Lay out a (stacked, when there are several series) bar chart of one value per bucket."""
    totals = [sum(s.values[i] for s in series) for i in range(len(buckets))]
    scale = Scale.fitting(max(totals, default=0))
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(buckets), 1)
    bucket_title = "Hour (UTC)" if granularity == "hour" else "Day (UTC)"
    return BarChart(
        id=id,
        title=title,
        description=_description(title, buckets, granularity, totals, unit),
        unit=unit,
        series=list(series),
        columns=[
            _column(index, start, granularity, series, totals[index], scale, slot, unit)
            for index, start in enumerate(buckets)
        ],
        y_ticks=scale.ticks(unit),
        x_ticks=_x_ticks(buckets, granularity, slot),
        x_axis_title=bucket_title,
        y_axis_title=y_axis_title or ("Bytes" if unit == "bytes" else title),
        bucket_header=bucket_title,
        empty=sum(totals) == 0,
    )


@dataclass(frozen=True)
class Scale:
    """The y axis: from 0 to ``top``, a whole number of round ``step``s."""

    top: float
    step: float

    @classmethod
    def fitting(cls, peak: float) -> Scale:
        step = nice_step(peak)
        return cls(top=step * max(1, math.ceil(peak / step)), step=step)

    def y(self, value: float) -> float:
        """Where ``value`` is drawn (SVG's y grows downwards)."""
        return round(PLOT_BOTTOM - value / self.top * (PLOT_BOTTOM - PLOT_TOP), 2)

    def ticks(self, unit: Unit) -> list[Tick]:
        return [
            Tick(position=self.y(n * self.step), label=format_value(n * self.step, unit))
            for n in range(round(self.top / self.step) + 1)
        ]


def _column(
    index: int,
    start: dt.datetime,
    granularity: Literal["hour", "day"],
    series: Sequence[Series],
    total: int,
    scale: Scale,
    slot: float,
    unit: Unit,
) -> Column:
    """One bucket: its series stacked bottom-up (zeros draw nothing), and its tooltip and table cells."""
    segments = []
    base = 0
    for s in series:
        value = s.values[index]
        if value:
            top = scale.y(base + value)
            segments.append(Segment(y=top, height=round(scale.y(base) - top, 2), css_class=s.css_class))
        base += value
    label = bucket_label(start, granularity)
    cells = [format_exact(s.values[index], unit) for s in series]
    lines = [f"{s.label}: {cell}" for s, cell in zip(series, cells, strict=True)]
    if len(series) > 1:
        lines.append(f"Total: {format_exact(total, unit)}")
    slot_x = PLOT_LEFT + index * slot
    bar_width = max(1.0, slot * 0.7)
    return Column(
        slot_x=round(slot_x, 2),
        slot_width=round(slot, 2),
        bar_x=round(slot_x + (slot - bar_width) / 2, 2),
        bar_width=round(bar_width, 2),
        segments=segments,
        label=label,
        tooltip="\n".join([label, *lines]),
        cells=cells,
    )


def _x_ticks(buckets: Sequence[dt.datetime], granularity: Literal["hour", "day"], slot: float) -> list[Tick]:
    """Label at most MAX_X_LABELS buckets: hours on a fixed grid (00:00, 04:00, …, midnight named
    by its date), days counted back from today so the newest is always labelled."""
    count = len(buckets)
    every = max(1, math.ceil(count / MAX_X_LABELS))
    if granularity == "hour":
        every = next(n for n in (1, 2, 3, 4, 6, 12, 24) if n >= every)
        labelled = [i for i, start in enumerate(buckets) if start.hour % every == 0]
    else:
        labelled = list(range(count - 1, -1, -every))[::-1]
    return [
        Tick(position=round(PLOT_LEFT + (i + 0.5) * slot, 2), label=_x_tick_label(buckets[i], granularity))
        for i in labelled
    ]


def _description(
    title: str,
    buckets: Sequence[dt.datetime],
    granularity: Literal["hour", "day"],
    totals: list[int],
    unit: Unit,
) -> str:
    """For screen readers: what the chart shows, its total and its busiest bucket."""
    total = sum(totals)
    period = "hour" if granularity == "hour" else "day"
    description = f"{title}, per {period} (UTC): {format_exact(total, unit)} in total"
    if total:
        busiest = max(range(len(buckets)), key=totals.__getitem__)
        busiest_label = bucket_label(buckets[busiest], granularity)
        description += f"; most in {busiest_label}, {format_exact(totals[busiest], unit)}"
    return description + "."
