"""Render time and SQL queries of the audit log over 10,000 events: first, later and deep pages,
filtered, and htmx "Load more" fragments. Keyset pagination keeps every page at the same count."""

from __future__ import annotations

from datetime import timedelta

from bench.common import count_queries, measure, median, scratch_database, setup_django, table

EVENTS = 10_000


def main() -> None:
    setup_django()
    from django.test import Client
    from django.utils import timezone

    from console.models import AuditEvent, Membership, Organization, Role, User
    from console.selectors import AUDIT_PAGE_SIZE, AuditCursor

    with scratch_database():
        user = User.objects.create_user("bench@example.com", "bench-password")
        organization = Organization.objects.create(name="Bench", slug="bench")
        Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
        now = timezone.now()
        actions = ["project.create", "api_key.create", "api_key.delete", "member.role_change", "pulse.enable"]
        actors = [f"member{n}@example.com" for n in range(20)]
        AuditEvent.objects.bulk_create(
            (
                AuditEvent(
                    organization=organization,
                    organization_name=organization.name,
                    actor_label=actors[n % len(actors)],
                    action=actions[n % len(actions)],
                    target_type="project",
                    target_id=str(n),
                    target_label=f"Project {n}",
                    ip_address="203.0.113.7",
                    details={"n": n},
                    created=now - timedelta(seconds=n),
                )
                for n in range(EVENTS)
            ),
            batch_size=2000,
        )
        client = Client()
        client.force_login(user)
        base = f"/o/{organization.slug}/settings/audit-log/"

        def cursor_at(position: int) -> str:
            event = AuditEvent.objects.order_by("-created", "-id")[position - 1]
            return AuditCursor(created=event.created, id=event.pk).encode()

        pages = [
            ("page 1", base, {}),
            ("page 2", f"{base}?before={cursor_at(AUDIT_PAGE_SIZE)}", {}),
            ("page 100 (events 4,951-5,000)", f"{base}?before={cursor_at(99 * AUDIT_PAGE_SIZE)}", {}),
            ("last page", f"{base}?before={cursor_at(EVENTS - 10)}", {}),
            ("filtered: one action", f"{base}?action=api_key.delete", {}),
            ("filtered: action + actor", f"{base}?action=api_key.delete&actor=member3%40example.com", {}),
            ("htmx load more, page 2", f"{base}?before={cursor_at(AUDIT_PAGE_SIZE)}", {"HX-Request": "true"}),
            (
                "htmx load more, page 100",
                f"{base}?before={cursor_at(99 * AUDIT_PAGE_SIZE)}",
                {"HX-Request": "true"},
            ),
        ]
        rows = []
        for label, url, headers in pages:
            with count_queries() as queries:
                response = client.get(url, headers=headers)
            assert response.status_code == 200, (label, response.status_code)
            samples = measure(lambda url=url, headers=headers: client.get(url, headers=headers), repeat=30)
            rows.append([label, f"{median(samples) * 1000:.1f}", len(queries)])
        print(f"{EVENTS:,} audit events, {AUDIT_PAGE_SIZE} per page")
        print(table(["page", "median ms", "SQL queries"], rows))
