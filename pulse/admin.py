from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from console.audit import Actor
from pulse.leftovers import pulse_leftover_recheck
from pulse.models import PulseConfig, PulseLeftoverSlot


@admin.register(PulseConfig)
class PulseConfigAdmin(admin.ModelAdmin[PulseConfig]):
    list_display = (
        "project",
        "enabled",
        "database_label",
        "region",
        "slot_name",
        "last_captured_at",
        "last_error_at",
    )
    list_filter = ("enabled", "region")
    search_fields = ("project__name", "project__organization__slug", "slot_name")
    # The connection string is ciphertext and never shown; changes go through the services.
    exclude = ("connection_string",)
    readonly_fields = [
        field.name
        for field in PulseConfig._meta.get_fields()
        if field.concrete and field.name != "connection_string"
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PulseLeftoverSlot)
class PulseLeftoverSlotAdmin(admin.ModelAdmin[PulseLeftoverSlot]):
    list_display = ("slot_name", "organization", "project_name", "database_label", "since", "last_checked_at")
    search_fields = ("slot_name", "organization__slug", "project_name")
    exclude = ("connection_string",)
    readonly_fields = (
        "organization",
        "project",
        "project_name",
        "slot_name",
        "publication_name",
        "database_label",
        "since",
        "last_checked_at",
        "last_error",
    )
    actions = ("check_again",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Check again (drop the slot if the database answers)")
    def check_again(self, request: HttpRequest, queryset: QuerySet[PulseLeftoverSlot]) -> None:
        actor = Actor.from_request(request)
        gone = sum(pulse_leftover_recheck(leftover=leftover, actor=actor) for leftover in queryset)
        self.message_user(request, f"{gone} of {len(queryset)} slots confirmed gone.", messages.SUCCESS)
