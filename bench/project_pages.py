"""The Overview and a project's Project API keys tab with 1,000 projects of 20 keys each:
median render ms and SQL queries per page, which must not grow with the number of rows."""

from __future__ import annotations

from bench.common import count_queries, measure, median, scratch_database, setup_django, table

PROJECTS = 1_000
KEYS_PER_PROJECT = 20


def main() -> None:
    setup_django()
    from django.test import Client
    from django.utils import timezone

    from console.models import Membership, Organization, Role, User
    from console.views import OVERVIEW_PAGE_SIZE
    from projects.keys import key_digest, key_display_prefix, key_generate
    from projects.models import ApiKey, Project

    with scratch_database():
        user = User.objects.create_user("bench@example.com", "bench-password")
        organization = Organization.objects.create(name="Bench", slug="bench")
        Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
        client = Client()
        client.force_login(user)

        def add_projects(start: int, stop: int) -> None:
            projects = Project.objects.bulk_create(
                Project(organization=organization, name=f"Project {n:04d}", created_by=user)
                for n in range(start, stop)
            )
            keys = []
            for project in projects:
                for k in range(KEYS_PER_PROJECT):
                    raw = key_generate()
                    keys.append(
                        ApiKey(
                            project=project,
                            name=f"Key {k:02d}",
                            prefix=key_display_prefix(raw),
                            digest=key_digest(raw),
                            created_by=user,
                            last_used=timezone.now() if k % 2 else None,
                        )
                    )
            ApiKey.objects.bulk_create(keys, batch_size=5_000)

        def page(label: str, url: str, rows: int, rows_on_page: int) -> list[object]:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            with count_queries() as queries:
                client.get(url)
            samples = measure(lambda: client.get(url), repeat=30)
            return [label, rows, rows_on_page, f"{median(samples) * 1000:.1f}", len(queries)]

        rows = []
        existing = 0
        for count in (10, 100, PROJECTS):
            add_projects(existing, count)
            existing = count
            rows.append(page("Overview", f"/o/{organization.slug}/", count, min(count, OVERVIEW_PAGE_SIZE)))
        few_keys = Project.objects.create(organization=organization, name="One key", created_by=user)
        raw = key_generate()
        ApiKey.objects.create(
            project=few_keys,
            name="Only",
            prefix=key_display_prefix(raw),
            digest=key_digest(raw),
            created_by=user,
        )
        full = Project.objects.filter(organization=organization).order_by("name").first()
        assert full is not None
        for project, keys in ((few_keys, 1), (full, KEYS_PER_PROJECT)):
            rows.append(
                page(
                    "Project API keys tab",
                    f"/o/{organization.slug}/projects/{project.pk}/settings/api-keys/",
                    keys,
                    keys,
                )
            )
        print(
            f"{PROJECTS:,} projects with {KEYS_PER_PROJECT} keys each ({PROJECTS * KEYS_PER_PROJECT:,} keys)"
        )
        print(table(["page", "rows", "rows on the page", "median ms", "SQL queries"], rows))
