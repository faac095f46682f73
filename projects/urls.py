from django.urls import path

from projects import views

app_name = "projects"
urlpatterns = [
    path("<uuid:project_id>/", views.project_dashboard, name="dashboard"),
]
