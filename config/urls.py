"""Every app's pages under one root (the data plane's routes are in ``config/dataplane.py``)."""

from django.contrib import admin
from django.urls import include, path

from projects import views as project_views

urlpatterns = [
    path("", include("console.urls")),
    path("o/<slug:organization_slug>/", project_views.organization_overview, name="organization_overview"),
    path("o/<slug:organization_slug>/usage/", include("usage.urls")),
    path("o/<slug:organization_slug>/projects/", include("projects.urls")),
    path("o/<slug:organization_slug>/projects/", include("accelerate.urls")),
    path("o/<slug:organization_slug>/projects/", include("pulse.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "console.errors.bad_request"
handler500 = "console.errors.server_error"
