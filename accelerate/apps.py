from django.apps import AppConfig


class AccelerateConfig(AppConfig):
    name = "accelerate"
    verbose_name = "Accelerate"
