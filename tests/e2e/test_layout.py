"""Every page fits the screen at a phone's, a tablet's and a laptop's width: nothing is wider than
the window, no table or code block hides part of itself behind a horizontal scroll, and no chart
label is cut off at the chart's edge."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from accelerate.services import accelerate_create
from console.audit import Actor
from console.models import Role
from console.services import invitation_create
from projects.services import api_key_create
from pulse.models import PulseEvent
from pulse.services import pulse_enable
from tests.factories import MembershipFactory, ProjectFactory
from tests.pulse.conftest import url_from_conninfo
from usage.metering import Meter

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = (390, 768, 1280)

# What does not fit, as the user would see it: the page wider than the window, an element whose
# content needs a horizontal scroll to be seen, or a chart label drawn past the chart's edge.
OVERFLOWS = """() => {
  const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (e.classList.length ? '.' + [...e.classList].join('.') : '');
  // Visually hidden on purpose (for screen readers): a 1px box, or inside one.
  const hidden = (e) => {
    for (; e; e = e.parentElement) if (e.getBoundingClientRect().width <= 1) return true;
    return false;
  };
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    problems.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
  }
  for (const e of document.querySelectorAll('main *')) {
    const overflow = getComputedStyle(e).overflowX;
    if (overflow !== 'visible' && !hidden(e) && e.scrollWidth > e.clientWidth + 1) {
      problems.push(`${name(e)} hides ${e.scrollWidth - e.clientWidth}px (overflow-x: ${overflow})`);
    }
  }
  for (const svg of document.querySelectorAll('main svg[viewBox]')) {
    const edge = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const box = text.getBoundingClientRect();
      if (box.width && (box.left < edge.left - 0.5 || box.right > edge.right + 0.5)) {
        problems.push(`${name(svg.closest('[id]') || svg)}: the label "${text.textContent}" is cut off`);
      }
    }
  }
  return problems;
}"""


@pytest.fixture
def busy_organization(settings, database_url, source_database):
    """An organization with what makes pages wide: long names and addresses, both products on, a
    month of usage, audit events with long details, keys, members and invitations."""
    settings.ACCELERATE_OPEN_ACCESS = settings.PULSE_OPEN_ACCESS = True
    owner = MembershipFactory(organization__name="Acme Corporation International", organization__slug="acme")
    organization = owner.organization
    actor = Actor(user=owner.user, label=owner.user.email, ip_address="2001:db8:85a3::8a2e:370:7334")
    project = ProjectFactory(organization=organization, name="Storefront production (eu)")
    ProjectFactory(organization=organization, name="Internal analytics warehouse")
    accelerate_create(project=project, actor=actor, connection_string=database_url(), region="eu-west-1")
    pulse_enable(
        project=project,
        connection_string=url_from_conninfo(source_database),
        region="eu-west-1",
        tables=[],
        actor=actor,
    )
    api_key_create(project=project, name="production-backend-eu-west-1-primary", actor=actor)
    for role in (Role.ADMIN, Role.DEVELOPER, Role.VIEWER):
        MembershipFactory(organization=organization, role=role, user__name="Alexandra Konstantinopoulou")
    invitation_create(
        organization=organization,
        email="someone.with.a.long.address@subsidiary.example.com",
        role=Role.DEVELOPER,
        by=owner,
        actor=actor,
    )
    now = timezone.now()
    for n in range(3):
        PulseEvent.objects.create(
            project=project,
            model_name="public.customer_addresses",
            action="update",
            payload={
                "before": {"id": n, "street": "Long Street " * 6, "email": "a.long.address@example.com"},
                "after": {"id": n, "street": "Longer Street " * 6, "email": "a.long.address@example.com"},
            },
            lsn=1000 + n,
            position=0,
            seq=n + 1,
            committed_at=now,
        )
    meter = Meter("accelerate")
    for day in range(30):
        at = time.time() - day * 86400
        meter.add(
            organization_id=organization.pk,
            project_id=project.pk,
            at=at,
            queries=123_456_789,
            cache_hits_ttl=98_765_432,
            cache_misses=1_234_567,
            egress_bytes=987_654_321_000,
            errors=12_345,
        )
    meter.flush()
    pulse_meter = Meter("pulse")
    pulse_meter.add(
        organization_id=organization.pk,
        project_id=project.pk,
        at=time.time(),
        events_captured=123_456_789,
        events_delivered=987_654_321,
    )
    pulse_meter.flush()
    return owner, project


def _pages(organization_slug, project):
    project_args = [organization_slug, project.pk]
    return {
        "Overview": reverse("organization_overview", args=[organization_slug]),
        "Dashboard": reverse("projects:dashboard", args=project_args),
        "Settings": reverse("projects:settings", args=project_args),
        "Project API keys": reverse("projects:api_keys", args=project_args),
        "Accelerate": reverse("accelerate:tab", args=project_args),
        "Pulse": reverse("pulse:tab", args=project_args),
        "Pulse settings": reverse("pulse:settings", args=project_args),
        "Usage, 30 days": reverse("usage", args=[organization_slug]) + "?range=30d",
        "Usage, 24 hours": reverse("usage", args=[organization_slug]),
        "Audit log": reverse("organization_audit_log", args=[organization_slug]),
        "Members": reverse("organization_members", args=[organization_slug]),
        "Organization settings": reverse("organization_settings", args=[organization_slug]),
    }


def test_no_page_is_wider_than_the_screen(busy_organization, login_page, live_server):
    owner, project = busy_organization
    page = login_page(owner.user)
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for title, path in _pages(owner.organization.slug, project).items():
            page.goto(live_server.url + path)
            expect(page.locator("main h1").first).to_be_visible()
            # Open what is folded ("Show as table", "Advanced settings"): it must fit too.
            page.evaluate("document.querySelectorAll('main details:not(.menu)').forEach(d => d.open = true)")
            problems += [f"{title} at {width}px: {problem}" for problem in page.evaluate(OVERFLOWS)]
    assert problems == [], "\n".join(problems)


def test_the_overflow_check_sees_a_table_cut_off(busy_organization, login_page, live_server):
    """The check above is not blind: a table wider than its box is reported."""
    owner, project = busy_organization
    page = login_page(owner.user)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(live_server.url + reverse("organization_audit_log", args=[owner.organization.slug]))
    # Through the CSSOM, which the Content-Security-Policy allows (a <style> it would refuse).
    page.evaluate(
        "Object.assign(document.querySelector('.audit-log').style, {display: 'table', minWidth: '60rem'})"
    )
    assert any("table-wrap hides" in problem for problem in page.evaluate(OVERFLOWS))
