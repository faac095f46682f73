"""Render time and SQL queries of the Overview, by number of projects (the page must not grow per row)."""

from __future__ import annotations

from bench.common import count_queries, measure, median, scratch_database, setup_django, table


def main() -> None:
    setup_django()
    from django.test import Client

    from console.models import Membership, Organization, Role, User
    from projects.models import Project

    with scratch_database():
        user = User.objects.create_user("bench@example.com", "bench-password")
        organization = Organization.objects.create(name="Bench", slug="bench")
        Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
        client = Client()
        client.force_login(user)
        url = f"/o/{organization.slug}/"
        rows = []
        existing = 0
        for count in (10, 100, 1000):
            Project.objects.bulk_create(
                Project(organization=organization, name=f"Project {n:04d}") for n in range(existing, count)
            )
            existing = count
            with count_queries() as queries:
                assert client.get(url).status_code == 200
            samples = measure(lambda: client.get(url), repeat=30)
            rows.append([count, f"{median(samples) * 1000:.1f}", len(queries)])
        print(table(["projects", "median ms", "SQL queries"], rows))
