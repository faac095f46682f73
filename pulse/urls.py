from django.urls import path

from pulse import views

app_name = "pulse"
urlpatterns = [
    path("<uuid:project_id>/pulse/", views.pulse_tab, name="tab"),
    path("<uuid:project_id>/pulse/check/", views.pulse_check, name="check"),
    path("<uuid:project_id>/pulse/enable/", views.pulse_enable, name="enable"),
    path("<uuid:project_id>/pulse/status/", views.pulse_status, name="status"),
    path("<uuid:project_id>/pulse/events/", views.pulse_events, name="events"),
    path("<uuid:project_id>/pulse/api-key/", views.pulse_api_key_generate, name="api_key_generate"),
    path("<uuid:project_id>/pulse/settings/", views.pulse_settings, name="settings"),
    path("<uuid:project_id>/pulse/disable/", views.pulse_disable, name="disable"),
    path("<uuid:project_id>/pulse/waitlist/", views.pulse_waitlist_join, name="waitlist_join"),
    path(
        "<uuid:project_id>/pulse/leftover-slots/check/", views.pulse_leftovers_check, name="leftovers_check"
    ),
]
