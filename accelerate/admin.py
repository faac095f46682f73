from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accelerate.models import AccelerateConfig


@admin.register(AccelerateConfig)
class AccelerateConfigAdmin(admin.ModelAdmin[AccelerateConfig]):
    """Read-only overview: changes go through the console (or configureaccelerate), which checks the
    database first; the connection string is never shown, only its redacted form."""

    list_display = ("project", "organization", "enabled", "region", "database_display", "updated")
    list_filter = ("enabled", "region")
    search_fields = ("project__name", "project__organization__name", "project__organization__slug")
    list_select_related = ("project__organization",)
    exclude = ("connection_string",)

    @admin.display(ordering="project__organization__name")
    def organization(self, obj: AccelerateConfig) -> str:
        return obj.project.organization.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AccelerateConfig | None = None) -> bool:
        return False
