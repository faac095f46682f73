from django.apps import AppConfig


class AccelerateConfig(AppConfig):
    name = "accelerate"
    verbose_name = "Accelerate"

    def ready(self) -> None:
        from console.products import Product, product_register

        product_register(
            Product(key="accelerate", name="Accelerate", open_access_setting="ACCELERATE_OPEN_ACCESS")
        )
