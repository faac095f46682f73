from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from console.models import Organization


class Project(models.Model):
    """An application of an organization; products are configured per project."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("name", "created")
        indexes = [models.Index(fields=["organization", "name"], name="project_org_name")]

    def __str__(self) -> str:
        return self.name

    @property
    def short_id(self) -> str:
        """Twelve hex digits of the id: enough to name things in other systems (slots, logs)."""
        return self.id.hex[:12]
