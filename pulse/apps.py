from django.apps import AppConfig


class PulseConfig(AppConfig):
    name = "pulse"
    verbose_name = "Pulse"

    def ready(self) -> None:
        from console.products import Product, product_register

        product_register(Product(key="pulse", name="Pulse", open_access_setting="PULSE_OPEN_ACCESS"))
