from django.urls import path

from accelerate import views

app_name = "accelerate"
urlpatterns = [
    path("<uuid:project_id>/accelerate/", views.accelerate_tab, name="tab"),
    path("<uuid:project_id>/accelerate/configure/", views.accelerate_configure, name="configure"),
    path("<uuid:project_id>/accelerate/edit/", views.accelerate_edit, name="edit"),
    path("<uuid:project_id>/accelerate/region/", views.accelerate_region, name="region"),
    path("<uuid:project_id>/accelerate/api-key/", views.accelerate_api_key_generate, name="api_key_generate"),
    path("<uuid:project_id>/accelerate/disable/", views.accelerate_disable, name="disable"),
    path("<uuid:project_id>/accelerate/enable/", views.accelerate_enable, name="enable"),
    path(
        "<uuid:project_id>/accelerate/request-access/", views.accelerate_request_access, name="request_access"
    ),
]
