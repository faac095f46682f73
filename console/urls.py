"""The core's pages: signing in and up, organizations, members, invitations, the audit log."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import views, views_members

settings_urlpatterns = [
    path("", views.organization_settings, name="organization_settings"),
    path("delete/", views.organization_delete, name="organization_delete"),
    path("leave/", views_members.organization_leave, name="organization_leave"),
    path("members/", views_members.organization_members, name="organization_members"),
    path("members/invite/", views_members.invitation_create, name="invitation_create"),
    path("members/<int:membership_id>/role/", views_members.member_role_change, name="member_role_change"),
    path("members/<int:membership_id>/remove/", views_members.member_remove, name="member_remove"),
    path(
        "invitations/<int:invitation_id>/revoke/", views_members.invitation_revoke, name="invitation_revoke"
    ),
    path("audit-log/", views.organization_audit_log, name="organization_audit_log"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("account/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "account/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"
    ),
    path(
        "account/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "account/password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("signup/", views_members.signup, name="signup"),
    path("signup/sent/", views_members.signup_sent, name="signup_sent"),
    path("signup/<str:token>/", views_members.signup_finish, name="signup_finish"),
    path("invitations/<str:token>/", views_members.invitation_accept, name="invitation_accept"),
    path("organizations/new/", views.organization_create, name="organization_create"),
    path("o/<slug:organization_slug>/settings/", include(settings_urlpatterns)),
]
