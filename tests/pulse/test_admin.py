from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from console.access import product_access_request
from console.audit import Actor
from console.models import ProductAccessRequest
from pulse.selectors import pulse_access_granted
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_admin_grants_pulse_from_the_wait_list_in_django_admin(settings):
    settings.PULSE_OPEN_ACCESS = False
    waiting, other = OrganizationFactory(), OrganizationFactory()
    for organization in (waiting, other):
        product_access_request(organization=organization, product="pulse", actor=Actor.command("test"))
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    changelist = reverse("admin:console_productaccessrequest_changelist")
    access_request = ProductAccessRequest.objects.get(organization=waiting)
    client.post(changelist, {"action": "grant_access", "_selected_action": [access_request.pk]})
    assert pulse_access_granted(waiting) and not pulse_access_granted(other)


def test_pulse_is_open_to_everyone_when_pulse_open_access_is_on(settings):
    organization = OrganizationFactory()
    settings.PULSE_OPEN_ACCESS = False
    assert not pulse_access_granted(organization)
    settings.PULSE_OPEN_ACCESS = True
    assert pulse_access_granted(organization)
