"""The server-side layout of the usage charts: units, axis ticks, bars and their tooltips."""

from __future__ import annotations

import datetime as dt

import pytest

from usage.charts import (
    PLOT_BOTTOM,
    PLOT_TOP,
    Scale,
    Series,
    bar_chart,
    format_bytes,
    format_count,
    format_exact,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (950, "950"),
        (1000, "1k"),
        (1234, "1.2k"),
        (12_345, "12.3k"),
        (999_950, "1M"),
        (3_400_000, "3.4M"),
        (7e9, "7B"),
    ],
)
def test_counts_read_short(value, text):
    assert format_count(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0 B"), (512, "512 B"), (1234, "1.2 kB"), (3_400_000, "3.4 MB"), (5_000_000_000, "5 GB")],
)
def test_sizes_read_in_decimal_units(value, text):
    assert format_bytes(value) == text


def test_exact_values_keep_every_digit():
    assert format_exact(1_234_567) == "1,234,567"
    assert format_exact(3_412_345, "bytes") == "3.4 MB (3,412,345 bytes)"


HOURS = [dt.datetime(2026, 11, 26, 0, tzinfo=dt.UTC) + dt.timedelta(hours=n) for n in range(4)]


def test_bars_are_proportional_and_stack_with_exact_tooltips():
    chart = bar_chart(
        id="c",
        title="Cache",
        buckets=HOURS,
        granularity="hour",
        series=[Series("Hits", [10, 0, 30, 0], "s0"), Series("Misses", [10, 0, 10, 0], "s1")],
    )
    top = float(chart.y_ticks[-1].label)
    assert top >= 40 and [t.label for t in chart.y_ticks][0] == "0"
    first, empty, third, _ = chart.columns
    assert empty.segments == []
    height = PLOT_BOTTOM - PLOT_TOP
    assert first.segments[0].height == pytest.approx(10 / top * height, abs=0.01)
    assert third.segments[0].height == pytest.approx(30 / top * height, abs=0.01)
    # The second series sits on top of the first.
    assert third.segments[1].y + third.segments[1].height == pytest.approx(third.segments[0].y, abs=0.01)
    assert third.tooltip == "Nov 26, 02:00–03:00 UTC\nHits: 30\nMisses: 10\nTotal: 40"
    assert third.cells == ["30", "10"]
    assert (
        not chart.empty
        and "60 in total" in chart.description
        and "most in Nov 26, 02:00–03:00 UTC" in chart.description
    )


def test_an_all_zero_chart_is_marked_empty_with_a_0_to_1_axis():
    chart = bar_chart(
        id="c", title="Errors", buckets=HOURS, granularity="hour", series=[Series("Errors", [0] * 4, "s0")]
    )
    assert chart.empty and [t.label for t in chart.y_ticks] == ["0", "1"]


def test_byte_charts_label_their_axis_in_bytes():
    days = [dt.datetime(2026, 11, 20, tzinfo=dt.UTC) + dt.timedelta(days=n) for n in range(7)]
    chart = bar_chart(
        id="e",
        title="Egress",
        buckets=days,
        granularity="day",
        series=[Series("Egress", [0, 3_400_000, 0, 0, 0, 0, 1], "s0")],
        unit="bytes",
    )
    assert [t.label for t in chart.y_ticks] == ["0 B", "1 MB", "2 MB", "3 MB", "4 MB"]
    assert chart.columns[1].tooltip == "Sat, Nov 21, 2026 (UTC)\nEgress: 3.4 MB (3,400,000 bytes)"
    assert chart.x_axis_title == "Day (UTC)" and chart.y_axis_title == "Bytes"
    assert chart.x_ticks[-1].label == "Nov 26"  # today is always labelled


def test_hour_axes_name_the_day_at_midnight():
    hours = [dt.datetime(2026, 11, 25, 16, tzinfo=dt.UTC) + dt.timedelta(hours=n) for n in range(24)]
    chart = bar_chart(
        id="q", title="Queries", buckets=hours, granularity="hour", series=[Series("Queries", [1] * 24, "s0")]
    )
    labels = [t.label for t in chart.x_ticks]
    assert labels == ["16:00", "20:00", "Nov 26", "04:00", "08:00", "12:00"]


@pytest.mark.parametrize(
    ("peak", "top", "labels"),
    [
        (0, 1, ["0", "1"]),
        (37, 40, ["0", "10", "20", "30", "40"]),
        (40, 40, ["0", "10", "20", "30", "40"]),
        (1234, 1500, ["0", "500", "1k", "1.5k"]),
    ],
)
def test_the_y_axis_ends_on_the_first_round_step_at_or_above_the_peak(peak, top, labels):
    scale = Scale.fitting(peak)
    assert scale.top == top
    assert [tick.label for tick in scale.ticks("count")] == labels
    assert (scale.y(0), scale.y(top)) == (PLOT_BOTTOM, PLOT_TOP)
