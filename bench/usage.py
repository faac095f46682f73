"""The Usage page for an organization with 100 projects and a year of hourly rows (every metric).

The rows are generated in SQL (INSERT … SELECT generate_series); the daily rows are what the
meters' flushes would have written for them (one GROUP BY). Hourly rows older than 30 days are
left in place, as before the first `pruneusage`, so the hourly table is at its largest.
"""

from __future__ import annotations

from bench.common import count_queries, measure, median, percentile, scratch_database, setup_django, table

PROJECTS = 100
DAYS = 365


def generate(organization_id: int) -> int:
    from django.db import connection

    from usage.metering import METRICS
    from usage.models import UsageCounter, UsageDailyCounter

    metrics = [(product, metric) for product, names in METRICS.items() for metric in names]
    hourly, daily = UsageCounter._meta.db_table, UsageDailyCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {hourly} (organization_id, project_id, product, metric, hour, value)
            SELECT %s, p.id, m.product, m.metric, h, (random() * 1000)::bigint
            FROM projects_project p,
                 unnest(%s::text[], %s::text[]) AS m(product, metric),
                 generate_series(
                     date_trunc('hour', now()) - make_interval(days => %s),
                     date_trunc('hour', now()),
                     '1 hour'
                 ) AS h
            WHERE p.organization_id = %s
            """,  # noqa: S608 - our table names; values are parameters
            [organization_id, [p for p, _ in metrics], [m for _, m in metrics], DAYS, organization_id],
        )
        rows = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {daily} (organization_id, project_id, product, metric, day, value)
            SELECT organization_id, project_id, product, metric, (hour AT TIME ZONE 'UTC')::date, sum(value)
            FROM {hourly} GROUP BY 1, 2, 3, 4, 5
            """  # noqa: S608
        )
        cursor.execute(f"VACUUM ANALYZE {hourly}")
        cursor.execute(f"VACUUM ANALYZE {daily}")
    return rows


def main() -> None:
    setup_django()
    from django.db import connection
    from django.test import Client

    from console.models import Membership, Organization, Role, User
    from projects.models import Project

    with scratch_database():
        user = User.objects.create_user("bench@example.com", "bench-password")
        organization = Organization.objects.create(name="Bench", slug="bench")
        Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
        Project.objects.bulk_create(
            Project(organization=organization, name=f"Project {n:03d}") for n in range(PROJECTS)
        )
        rows = generate(organization.pk)
        print(f"{PROJECTS} projects, {rows:,} hourly rows ({DAYS} days x 24 h x 8 metrics)")
        client = Client()
        client.force_login(user)
        some_project = Project.objects.filter(organization=organization).first()
        assert some_project is not None
        pages = [
            ("Usage, 30 days", "/o/bench/usage/?range=30d"),
            ("Usage, 7 days", "/o/bench/usage/?range=7d"),
            ("Usage, 24 hours", "/o/bench/usage/"),
            ("Usage, 30 days, one project", f"/o/bench/usage/?range=30d&project={some_project.pk}"),
            ("CSV export, 30 days", "/o/bench/usage/export.csv?range=30d"),
            ("Overview (24 h numbers)", "/o/bench/"),
        ]
        results = []
        for name, url in pages:
            with count_queries() as queries:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            samples = measure(lambda url=url: client.get(url), repeat=30)
            results.append(
                [name, f"{median(samples) * 1000:.1f}", f"{percentile(samples, 95) * 1000:.1f}", len(queries)]
            )

        # For comparison only: the 30-day totals from the hourly rows, as the page would without daily rows.
        def from_hourly() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT (hour AT TIME ZONE 'UTC')::date, product, metric, sum(value)
                    FROM console_usagecounter
                    WHERE organization_id = %s AND hour >= date_trunc('day', now()) - interval '29 days'
                    GROUP BY 1, 2, 3
                    """,
                    [organization.pk],
                )
                cursor.fetchall()

        samples = measure(from_hourly, repeat=10, warmup=2)
        results.append(
            [
                "(not used) 30-day GROUP BY over hourly rows",
                f"{median(samples) * 1000:.1f}",
                f"{percentile(samples, 95) * 1000:.1f}",
                1,
            ]
        )
        print(table(["page", "median ms", "p95 ms", "SQL queries"], results))
