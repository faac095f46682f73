from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self) -> None:
        from console.audit import audit_vocabulary_register

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
