from django.apps import AppConfig


class PulseConfig(AppConfig):
    name = "pulse"
    verbose_name = "Pulse"

    def ready(self) -> None:
        from console.products import Product, product_register
        from pulse.services import pulse_release_organization_hook, pulse_release_project_hook

        product_register(
            Product(
                key="pulse",
                name="Pulse",
                open_access_setting="PULSE_OPEN_ACCESS",
                release_project=pulse_release_project_hook,
                release_organization=pulse_release_organization_hook,
            )
        )
