from django.urls import path

from usage import views

urlpatterns = [
    path("", views.usage_page, name="usage"),
    path("export.csv", views.usage_export, name="usage_export"),
]
