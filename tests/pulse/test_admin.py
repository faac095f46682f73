from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.audit import Actor
from console.models import AuditEvent
from pulse.models import PulseWaitlistEntry
from pulse.selectors import pulse_access_granted
from pulse.services import pulse_waitlist_join
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_admin_grants_early_access_from_the_wait_list(settings):
    settings.PULSE_OPEN_ACCESS = False
    waiting, other = OrganizationFactory(), OrganizationFactory()
    for organization in (waiting, other):
        pulse_waitlist_join(organization=organization, actor=Actor.command("test"))
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    changelist = reverse("admin:pulse_pulsewaitlistentry_changelist")
    entry = PulseWaitlistEntry.objects.get(organization=waiting)
    response = client.post(changelist, {"action": "grant_access", "_selected_action": [entry.pk]}, follow=True)
    assert "Granted Pulse to 1 organizations." in response.content.decode()
    assert pulse_access_granted(waiting) and not pulse_access_granted(other)
    event = AuditEvent.objects.get(action="pulse.access.grant")
    assert event.actor == staff and event.organization == waiting
