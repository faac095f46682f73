"""What the Usage page and its CSV export show, built from the usage reads (usage/selectors.py).

The views parse the request and render; here the query string becomes ``UsageFilters``,
and a ``UsageReport`` becomes the page's context: the filter links, one section per product
(summary numbers and charts, laid out by usage/charts.py), the per-project table, and the
CSV of the export.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, QueryDict
from django.urls import reverse

from console.models import Organization
from usage import selectors as usage
from usage.charts import BarChart, Series, bar_chart, format_bytes, format_count
from usage.metering import PRODUCTS


@dataclass(frozen=True)
class UsageFilters:
    """What the page shows, from its query string: ``range``, ``project`` and ``product``."""

    range: usage.UsageRange
    project_id: uuid.UUID | None
    product: str | None

    @classmethod
    def from_query(cls, query: QueryDict, *, project_names: dict[uuid.UUID, str]) -> UsageFilters:
        """Unknown ranges and products fall back to the defaults; a ``project`` that is not one of
        the organization's current projects is a 404 (another organization's project included)."""
        project_id = None
        if raw_project := query.get("project", ""):
            try:
                project_id = uuid.UUID(raw_project)
            except ValueError:
                raise Http404("No such project.") from None
            if project_id not in project_names:
                raise Http404("No such project.")
        product = query.get("product", "")
        return cls(
            range=usage.RANGES.get(query.get("range", ""), usage.DEFAULT_RANGE),
            project_id=project_id,
            product=product if product in PRODUCTS else None,
        )

    def query_string(self) -> str:
        """The query string that selects these filters (the defaults are left out)."""
        params = {}
        if self.range != usage.DEFAULT_RANGE:
            params["range"] = self.range.key
        if self.project_id is not None:
            params["project"] = str(self.project_id)
        if self.product is not None:
            params["product"] = self.product
        return "?" + urlencode(params) if params else ""


@dataclass(frozen=True)
class FilterLink:
    label: str
    url: str
    current: bool


@dataclass(frozen=True)
class Stat:
    label: str
    value: str  # "1.2k"
    exact: str  # "1,234 queries"


@dataclass(frozen=True)
class ProductSection:
    key: str
    name: str
    empty: bool
    stats: list[Stat]
    charts: list[BarChart]


def usage_page_context(
    *,
    organization: Organization,
    filters: UsageFilters,
    report: usage.UsageReport,
    project_names: dict[uuid.UUID, str],
) -> dict[str, Any]:
    """Everything the Usage page shows for the report, besides the membership and organization."""
    base = reverse("usage", args=[organization.slug])
    return {
        "filters": filters,
        "report": report,
        "sections": _sections(report, filters),
        "project_name": project_names.get(filters.project_id) if filters.project_id else None,
        "export_url": reverse("usage_export", args=[organization.slug]) + filters.query_string(),
        "product_name": usage.PRODUCT_NAMES.get(filters.product or ""),
        **_filter_links(base, filters, project_names),
        **_project_table(report, filters, base),
    }


def _filter_links(base: str, filters: UsageFilters, project_names: dict[uuid.UUID, str]) -> dict[str, Any]:
    ranges = [
        FilterLink(r.label, base + replace(filters, range=r).query_string(), r == filters.range)
        for r in usage.RANGES.values()
    ]
    products = [
        FilterLink(
            "All products", base + replace(filters, product=None).query_string(), filters.product is None
        )
    ] + [
        FilterLink(
            usage.PRODUCT_NAMES[p], base + replace(filters, product=p).query_string(), p == filters.product
        )
        for p in PRODUCTS
    ]
    projects = [
        FilterLink(
            "All projects",
            base + replace(filters, project_id=None).query_string(),
            filters.project_id is None,
        )
    ] + [
        FilterLink(name, base + replace(filters, project_id=pk).query_string(), pk == filters.project_id)
        for pk, name in project_names.items()
    ]
    return {"range_links": ranges, "product_links": products, "project_links": projects}


def _sections(report: usage.UsageReport, filters: UsageFilters) -> list[ProductSection]:
    """One section per product shown: its summary numbers and its charts."""
    sections = []
    if filters.product in (None, "accelerate"):
        sections.append(_accelerate_section(report))
    if filters.product in (None, "pulse"):
        sections.append(_pulse_section(report))
    return sections


def _accelerate_section(report: usage.UsageReport) -> ProductSection:
    ratio = report.cache_hit_ratio
    queries = report.total("accelerate", "queries")
    egress = report.total("accelerate", "egress_bytes")
    errors = report.total("accelerate", "errors")
    misses = report.total("accelerate", "cache_misses")
    ttl, swr = report.total("accelerate", "cache_hits_ttl"), report.total("accelerate", "cache_hits_swr")
    stats = [
        Stat("Queries", format_count(queries), _counted(queries, "query", "queries")),
        Stat(
            "Cache hit ratio",
            f"{ratio:.1%}" if ratio is not None else "—",
            f"{_counted(report.cache_hits, 'hit')}, {_counted(misses, 'miss', 'misses')}"
            if ratio is not None
            else "No cached queries",
        ),
        Stat("Cache hits", format_count(report.cache_hits), f"TTL {ttl:,} · SWR {swr:,}"),
        Stat("Cache misses", format_count(misses), f"{misses:,}"),
        Stat("Egress", format_bytes(egress), _counted(egress, "byte")),
        Stat("Errors", format_count(errors), f"{errors:,}"),
    ]
    charts = [
        _metric_chart(report, "accelerate", "queries"),
        bar_chart(
            id="chart-accelerate-cache",
            title="Cache hits and misses",
            buckets=report.buckets,
            granularity=report.range.granularity,
            series=[
                Series("Cache hits (TTL)", report.series[("accelerate", "cache_hits_ttl")], "s0"),
                Series("Cache hits (SWR)", report.series[("accelerate", "cache_hits_swr")], "s1"),
                Series("Cache misses", report.series[("accelerate", "cache_misses")], "s2"),
            ],
            y_axis_title="Queries",
        ),
        _metric_chart(report, "accelerate", "egress_bytes", unit="bytes"),
        _metric_chart(report, "accelerate", "errors"),
    ]
    return ProductSection("accelerate", "Accelerate", report.product_is_empty("accelerate"), stats, charts)


def _pulse_section(report: usage.UsageReport) -> ProductSection:
    captured = report.total("pulse", "events_captured")
    delivered = report.total("pulse", "events_delivered")
    stats = [
        Stat("Events captured", format_count(captured), f"{captured:,}"),
        Stat("Events delivered", format_count(delivered), f"{delivered:,}"),
    ]
    charts = [
        _metric_chart(report, "pulse", "events_captured"),
        _metric_chart(report, "pulse", "events_delivered"),
    ]
    return ProductSection("pulse", "Pulse", report.product_is_empty("pulse"), stats, charts)


def _metric_chart(report: usage.UsageReport, product: str, metric: str, **kwargs: Any) -> BarChart:
    """The chart of one metric, one bar per bucket."""
    name = usage.metric_name(product, metric)
    return bar_chart(
        id=f"chart-{product}-{metric.replace('_', '-')}",
        title=name,
        buckets=report.buckets,
        granularity=report.range.granularity,
        series=[Series(name, report.series[(product, metric)], "s0")],
        **kwargs,
    )


@dataclass(frozen=True)
class ProjectRow:
    name: str
    url: str  # the page filtered to this project; "" for deleted projects
    cells: list[str]


PROJECT_COLUMNS: list[tuple[str, str, str]] = [
    ("accelerate", "queries", "Queries"),
    ("accelerate", "cache_hits", "Cache hits"),
    ("accelerate", "cache_misses", "Cache misses"),
    ("accelerate", "egress_bytes", "Egress"),
    ("accelerate", "errors", "Errors"),
    ("pulse", "events_captured", "Events captured"),
    ("pulse", "events_delivered", "Events delivered"),
]


def _project_table(report: usage.UsageReport, filters: UsageFilters, base: str) -> dict[str, Any]:
    columns = [c for c in PROJECT_COLUMNS if filters.product in (None, c[0])]

    def cell(row: usage.ProjectUsage, product: str, metric: str) -> str:
        if metric == "cache_hits":
            value = row.total(product, "cache_hits_ttl") + row.total(product, "cache_hits_swr")
        else:
            value = row.total(product, metric)
        return format_bytes(value) if metric == "egress_bytes" else f"{value:,}"

    rows = [
        ProjectRow(
            name=row.name,
            url=""
            if row.project_id is None
            else base + replace(filters, project_id=row.project_id).query_string(),
            cells=[cell(row, product, metric) for product, metric, _ in columns],
        )
        for row in report.projects
    ]
    return {"project_columns": [label for _, _, label in columns], "project_rows": rows}


def _counted(value: int, singular: str, plural: str = "") -> str:
    """1 query, 1,234 queries."""
    return f"{value:,} {singular if value == 1 else plural or singular + 's'}"


def usage_csv(rows: list[usage.UsageExportRow], *, granularity: str) -> str:
    """The export: one row per bucket, project, product and metric, after a header row."""
    buffer = io.StringIO()  # one write into the response, not one per row
    writer = csv.writer(buffer)
    writer.writerow([f"{granularity}_start_utc", "project_id", "project_name", "product", "metric", "value"])
    starts: dict[dt.datetime, str] = {}
    names: dict[str, str] = {}
    for row in rows:
        if row.start not in starts:
            starts[row.start] = row.start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if row.project_name not in names:
            names[row.project_name] = spreadsheet_safe(row.project_name) or "(deleted project)"
        writer.writerow(
            [starts[row.start], row.project_id, names[row.project_name], row.product, row.metric, row.value]
        )
    return buffer.getvalue()


def usage_csv_filename(*, organization: Organization, filters: UsageFilters, now: dt.datetime) -> str:
    return f"usage-{organization.slug}-{filters.range.key}-{now:%Y%m%dT%H%MZ}.csv"


def spreadsheet_safe(text: str) -> str:
    """A project name as a CSV cell that a spreadsheet shows as text and never runs as a formula."""
    return "'" + text if text.startswith(("=", "+", "-", "@", "\t", "\r")) else text
