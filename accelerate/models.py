from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import Project
from userdb.encryption import EncryptedTextField

# Bounds of the advanced settings: the form, the service and the database all hold them.
CONNECTION_LIMIT = (1, 1000, 10)  # (min, max, default)
POOL_TIMEOUT_SECONDS = (1, 60, 10)
QUERY_TIMEOUT_SECONDS = (1, 60, 10)
RESPONSE_SIZE_LIMIT_MB = (1, 20, 5)


class AccelerateConfig(models.Model):
    """Accelerate for one project: the user's database (encrypted), the pool's region and limits.

    Everything the gateway needs to serve the project's ``prisma://`` connection string.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="accelerate_config")
    # A Fernet token (userdb.encryption); the plaintext is never rendered.
    connection_string = EncryptedTextField()
    # The redacted form (postgresql://app:••••@host:5432/db), shown without decrypting.
    database_display = models.CharField(max_length=600)
    server_version = models.CharField(max_length=40, blank=True, help_text="As the last check saw it.")
    region = models.CharField(max_length=32)
    connection_limit = models.PositiveIntegerField(default=CONNECTION_LIMIT[2])
    pool_timeout_seconds = models.PositiveIntegerField(default=POOL_TIMEOUT_SECONDS[2])
    query_timeout_seconds = models.PositiveIntegerField(default=QUERY_TIMEOUT_SECONDS[2])
    response_size_limit_mb = models.PositiveIntegerField(default=RESPONSE_SIZE_LIMIT_MB[2])
    enabled = models.BooleanField(default=True)
    configured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Accelerate configuration"
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    connection_limit__gte=CONNECTION_LIMIT[0], connection_limit__lte=CONNECTION_LIMIT[1]
                ),
                name="accelerate_connection_limit_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    pool_timeout_seconds__gte=POOL_TIMEOUT_SECONDS[0],
                    pool_timeout_seconds__lte=POOL_TIMEOUT_SECONDS[1],
                ),
                name="accelerate_pool_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    query_timeout_seconds__gte=QUERY_TIMEOUT_SECONDS[0],
                    query_timeout_seconds__lte=QUERY_TIMEOUT_SECONDS[1],
                ),
                name="accelerate_query_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    response_size_limit_mb__gte=RESPONSE_SIZE_LIMIT_MB[0],
                    response_size_limit_mb__lte=RESPONSE_SIZE_LIMIT_MB[1],
                ),
                name="accelerate_response_size_limit_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Accelerate for {self.project}"

    @property
    def response_size_limit_bytes(self) -> int:
        # Decimal megabytes, like every size the console shows (usage.charts.format_bytes).
        return self.response_size_limit_mb * 1_000_000
