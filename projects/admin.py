"""Django admin for projects and their API keys.

Keys are never created here (the only way to a key is the console or `createapikey`,
which show it once), never edited, and never show their digest. Deleting goes through
the services, so it is audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from console.audit import Actor
from projects import services
from projects.models import ApiKey, Project

API_KEY_FIELDS = ("name", "masked", "created_by", "created", "last_used", "expires")


class ApiKeyInline(admin.TabularInline[ApiKey, Project]):
    model = ApiKey
    fields = API_KEY_FIELDS
    readonly_fields = API_KEY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Project | None = None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("name", "organization", "created_by", "created")
    list_filter = ("created",)
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization", "created_by")
    readonly_fields = ("id", "created", "created_by")
    fields = ("id", "organization", "name", "created_by", "created")
    inlines = (ApiKeyInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Project | None = None) -> Any:
        # A project never moves to another organization.
        return (*self.readonly_fields, "organization") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Project, form: Any, change: bool) -> None:
        actor = Actor.from_request(request)
        if change:
            # The form has already set the new name on obj; the service compares with the stored one.
            stored = Project.objects.select_related("organization").get(pk=obj.pk)
            services.project_rename(project=stored, name=obj.name, actor=actor)
            obj.name = stored.name
        else:
            created = services.project_create(organization=obj.organization, name=obj.name, actor=actor)
            obj.pk, obj.created, obj.created_by = created.pk, created.created, created.created_by

    def delete_model(self, request: HttpRequest, obj: Project) -> None:
        for leftover in services.project_delete(project=obj, actor=Actor.from_request(request)):
            self.message_user(request, leftover, messages.WARNING)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Project]) -> None:
        for project in queryset.select_related("organization"):
            for leftover in services.project_delete(project=project, actor=Actor.from_request(request)):
                self.message_user(request, leftover, messages.WARNING)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = ("name", "masked", "project", "created_by", "created", "last_used", "expires")
    list_filter = ("created", "expires")
    search_fields = ("name", "prefix", "project__name", "project__organization__slug")
    list_select_related = ("project", "created_by")
    fields = ("project", *API_KEY_FIELDS)
    readonly_fields = fields

    @admin.display(description="Key")
    def masked(self, obj: ApiKey) -> str:
        return obj.masked

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: ApiKey) -> None:
        services.api_key_delete(api_key=obj, actor=Actor.from_request(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset.select_related("project__organization"):
            services.api_key_delete(api_key=api_key, actor=Actor.from_request(request))
