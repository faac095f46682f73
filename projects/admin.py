from __future__ import annotations

from django.contrib import admin

from projects.models import Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("name", "organization", "created_by", "created")
    list_filter = ("created",)
    search_fields = ("name", "organization__name", "organization__slug")
    list_select_related = ("organization", "created_by")
    readonly_fields = ("id", "created")
