from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from console.models import Organization
from projects.keys import KEY_PREFIX


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
        constraints = [
            # Names tell projects apart on the Overview; this also makes a double-submitted
            # "New project" form create one project, not two.
            models.UniqueConstraint(Lower("name"), "organization", name="project_unique_organization_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def short_id(self) -> str:
        """Twelve hex digits of the id: enough to name things in other systems (slots, logs)."""
        return self.id.hex[:12]


class ApiKey(models.Model):
    """A project API key (DESIGN.md section 5). Only the SHA-256 digest of the key is stored.

    The key itself is shown once, when created; ``prefix`` (eight characters after
    ``dpk_``) is what the console shows to tell keys apart.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=8)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    last_used = models.DateTimeField(null=True, blank=True)
    expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created", "-id")
        constraints = [
            models.UniqueConstraint(Lower("name"), "project", name="api_key_unique_project_name"),
        ]
        indexes = [models.Index(fields=["project", "-created"], name="api_key_project_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        """How the console shows the key: ``dpk_Ab3x9QpL…``."""
        return f"{KEY_PREFIX}{self.prefix}…"

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


class ApiKeyRevocations(models.Model):
    """How a revocation reaches every process: one row whose ``generation`` the database itself
    bumps, in the same transaction, whenever key rows are deleted or truncated or their digest,
    expiry or project change (triggers in migration 0003, so every path counts: services, cascades,
    Django admin, ``manage.py deleteapikey``, raw SQL). Each process's key cache reads it at most
    every half second and forgets its cached lookups when it moved (``projects.key_cache``)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    generation = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "API key revocation counter"

    def __str__(self) -> str:
        return f"API key revocations: {self.generation}"
