from django.urls import path

from projects import views

app_name = "projects"
urlpatterns = [
    path("new/", views.project_create, name="create"),
    path("<uuid:project_id>/", views.project_dashboard, name="dashboard"),
    path("<uuid:project_id>/health/<slug:product>/", views.project_product_health, name="health"),
    path("<uuid:project_id>/settings/", views.project_settings, name="settings"),
    path("<uuid:project_id>/settings/delete/", views.project_delete, name="delete"),
    path("<uuid:project_id>/settings/api-keys/", views.project_api_keys, name="api_keys"),
    path("<uuid:project_id>/settings/api-keys/new/", views.api_key_create, name="api_key_create"),
    path(
        "<uuid:project_id>/settings/api-keys/<int:api_key_id>/delete/",
        views.api_key_delete,
        name="api_key_delete",
    ),
]
