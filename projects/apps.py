from django.apps import AppConfig
from django.db.models.signals import post_delete


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from projects.models import ApiKey
        from projects.signals import api_key_deleted

        post_delete.connect(api_key_deleted, sender=ApiKey, dispatch_uid="projects.api_key_deleted")
