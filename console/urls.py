from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import views
from console.forms import ThrottledAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=ThrottledAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("organizations/new/", views.organization_create, name="organization_create"),
    path("o/<slug:organization_slug>/", views.organization_overview, name="organization_overview"),
    path("o/<slug:organization_slug>/settings/", views.organization_settings, name="organization_settings"),
    path("o/<slug:organization_slug>/projects/", include("projects.urls")),
    path("o/<slug:organization_slug>/projects/", include("pulse.urls")),
    path("admin/", admin.site.urls),
]
