from django.apps import AppConfig


class PulseConfig(AppConfig):
    name = "pulse"
    verbose_name = "Pulse"

    def ready(self) -> None:
        from console.audit import audit_vocabulary_register
        from console.products import Product, product_register
        from pulse.selectors import pulse_health
        from pulse.services import pulse_release_organization_hook, pulse_release_project_hook

        product_register(
            Product(
                key="pulse",
                name="Pulse",
                open_access_setting="PULSE_OPEN_ACCESS",
                release_project=pulse_release_project_hook,
                release_organization=pulse_release_organization_hook,
                health=pulse_health,
            )
        )
        audit_vocabulary_register(
            actions={
                "pulse.enable": "Pulse enabled",
                "pulse.disable": "Pulse disabled",
                "pulse.leftover_slot": "Replication slot left in the database",
                "pulse.leftover_slot.dropped": "Leftover replication slot dropped",
                "pulse.leftover_slot.gone": "Leftover replication slot found gone",
            },
            details={
                "slot": "Replication slot",
                "publication": "Publication",
                "tables": "Tables",
                "database": "Database",
                "region": "Region",
                "reused_slot": "Reused an existing slot",
                "dropped": "Dropped from the database",
                "error": "Error",
            },
        )
