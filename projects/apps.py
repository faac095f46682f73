from django.apps import AppConfig
from django.db.models.signals import post_delete


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from console.audit import audit_vocabulary_register
        from projects.models import ApiKey
        from projects.signals import api_key_deleted

        post_delete.connect(api_key_deleted, sender=ApiKey, dispatch_uid="projects.api_key_deleted")
        audit_vocabulary_register(
            actions={
                "project.create": "Project created",
                "project.rename": "Project renamed",
                "project.delete": "Project deleted",
                "api_key.create": "API key created",
                "api_key.delete": "API key removed",
            },
            details={"name": "Name", "prefix": "Key", "project": "Project", "api_keys": "API keys"},
            targets={"project": "Project", "apikey": "API key"},
        )
