from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from console import throttling
from console.access import product_access_grant, product_access_granted
from console.audit import Actor
from console.forms import ThrottledAdminAuthenticationForm
from console.models import (
    AuditEvent,
    Invitation,
    Membership,
    Organization,
    ProductAccess,
    ProductAccessRequest,
    User,
)
from console.products import products_all

# /admin/login/ checks passwords under the console's throttling rule (console/throttling.py).
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    ordering = ("email",)
    list_display = ("email", "name", "is_staff", "is_active", "date_joined", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name",)}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    actions = ("lift_sign_in_pause",)

    @admin.action(description="Lift the sign-in pause of the selected users")
    def lift_sign_in_pause(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        emails = list(queryset.values_list("email", flat=True))
        paused = [email for email in emails if throttling.login_lockout_lift(email=email).paused]
        if paused:
            self.message_user(
                request,
                f"Lifted the sign-in pause of {', '.join(paused)}; they can sign in now.",
                messages.SUCCESS,
            )
        if len(paused) < len(emails):
            self.message_user(
                request, f"{len(emails) - len(paused)} of the selected users were not paused.", messages.INFO
            )


class MembershipInline(admin.TabularInline[Membership, Organization]):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("name", "slug", "created")
    search_fields = ("name", "slug")
    list_filter = ("created",)
    inlines = (MembershipInline,)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ("user", "organization", "role", "joined")
    list_filter = ("role",)
    search_fields = ("user__email", "organization__name", "organization__slug")
    list_select_related = ("user", "organization")
    autocomplete_fields = ("user", "organization")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    """Read-only: the audit log is a record, not something to edit."""

    list_display = (
        "created",
        "organization_name",
        "actor_label",
        "action",
        "target_type",
        "target_label",
        "ip_address",
    )
    list_filter = ("action", "target_type")
    search_fields = ("organization_name", "actor_label", "action", "target_label")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(ProductAccess)
class ProductAccessAdmin(admin.ModelAdmin[ProductAccess]):
    """Grants of Preview products (also: ``manage.py grantaccess ORG_SLUG PRODUCT``)."""

    list_display = ("organization", "product", "granted_by", "created")
    list_filter = ("product",)
    search_fields = ("organization__name", "organization__slug")
    autocomplete_fields = ("organization",)
    readonly_fields = ("granted_by", "created")

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "product":
            return forms.ChoiceField(choices=[(product.key, product.name) for product in products_all()])
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ProductAccess, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        grant, _ = product_access_grant(
            organization=obj.organization, product=obj.product, actor=Actor.from_request(request)
        )
        obj.pk = grant.pk


@admin.register(ProductAccessRequest)
class ProductAccessRequestAdmin(admin.ModelAdmin[ProductAccessRequest]):
    """Requests for Preview access; the action grants them."""

    list_display = ("organization", "product", "requested_by", "created", "granted")
    list_filter = ("product",)
    search_fields = ("organization__name", "organization__slug", "requested_by__email")
    list_select_related = ("organization", "requested_by")
    actions = ("grant_access",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ProductAccessRequest | None = None) -> bool:
        return False

    @admin.display(boolean=True, description="Granted")
    def granted(self, obj: ProductAccessRequest) -> bool:
        return product_access_granted(organization=obj.organization, product=obj.product)

    @admin.action(description="Grant access to the selected organizations")
    def grant_access(self, request: HttpRequest, queryset: QuerySet[ProductAccessRequest]) -> None:
        actor = Actor.from_request(request)
        granted = sum(
            product_access_grant(organization=item.organization, product=item.product, actor=actor)[1]
            for item in queryset.select_related("organization")
        )
        self.message_user(request, f"Granted access to {granted} organization(s).", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    """Read-only: invitations are made and revoked in the console (the token is never stored)."""

    list_display = (
        "email",
        "organization",
        "role",
        "invited_by",
        "created",
        "expires",
        "accepted_at",
        "revoked_at",
    )
    list_filter = ("role",)
    search_fields = ("email", "organization__name", "organization__slug")
    list_select_related = ("organization", "invited_by")
    exclude = ("token_digest",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False
