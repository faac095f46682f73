from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.urls import reverse

from console import services, throttling
from console.models import Role, User


class ThrottledLoginMixin(AuthenticationForm):
    """A Django login form that checks the password under the throttling rule
    (``console.throttling``): the console's login form and the admin's both use it, so failures
    at either count toward the same pause. ``refused`` is set when the attempt was refused
    before any password was checked (the view answers 429)."""

    refused: throttling.LoginRefused | None = None

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            try:
                self.user_cache = throttling.login_authenticate(
                    request=self.request, email=email, password=password
                )
            except throttling.LoginRefused as refused:
                self.refused = refused
                raise ValidationError(refused.message, code="throttled") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class ThrottledAuthenticationForm(ThrottledLoginMixin):
    """The console's login form."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Check both and try again.",
    }


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    """Django admin's login form (staff only), under the same throttling rule."""


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=100, strip=True)
    slug = forms.SlugField(
        label="URL slug",
        max_length=50,
        required=False,
        help_text="Lowercase letters, digits and hyphens. Leave empty to derive it from the name.",
    )


class OrganizationRenameForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=100, strip=True)


class OrganizationDeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Organization name", strip=True)

    def __init__(self, *args: Any, organization_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["confirm_name"].label = f"Type “{organization_name}” to confirm"
        self.fields["confirm_name"].widget.attrs.update(autocomplete="off", autofocus=True)


class InvitationForm(forms.Form):
    email = forms.CharField(label="Email", max_length=254, strip=True)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.DEVELOPER)

    def __init__(self, *args: Any, roles: list[Role], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the roles the inviter may give; the service enforces the same rule.
        role_field = cast(forms.ChoiceField, self.fields["role"])
        role_field.choices = [(role.value, role.label) for role in roles]
        self.fields["email"].widget = forms.EmailInput(attrs={"autocomplete": "off", "autofocus": True})


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class SignUpForm(forms.Form):
    """Name and password for a new account; the email comes from the invitation or a field."""

    name = forms.CharField(label="Your name", max_length=150, required=False, strip=True)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("password1")
            and cleaned.get("password2")
            and cleaned["password1"] != cleaned["password2"]
        ):
            self.add_error("password2", "The two passwords differ. Type the same password twice.")
        return cleaned


class SignUpEmailForm(forms.Form):
    """Open sign-up's first step: the address that gets the link to finish."""

    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class PasswordResetRequestForm(PasswordResetForm):
    """Django's "Forgot password?" form. An account an operator made without a password may set
    one this way too (only the model backend signs in here); an address without an account is
    told so by email (``save``), so the answer, and the time it takes, is the same either way."""

    def get_users(self, email: str) -> Iterator[User]:
        return iter(User.objects.filter(email__iexact=email.strip(), is_active=True))

    def save(self, *args: Any, **kwargs: Any) -> None:
        email = self.cleaned_data["email"]
        request = kwargs["request"]
        if next(self.get_users(email), None) is not None:
            super().save(*args, **kwargs)
            return
        services.password_reset_no_account_email_send(
            email=email,
            login_url=request.build_absolute_uri(reverse("login")),
            signup_url=request.build_absolute_uri(reverse("signup")) if settings.ALLOW_SIGNUP else None,
        )
