from django.apps import AppConfig


class AccelerateConfig(AppConfig):
    name = "accelerate"
    verbose_name = "Accelerate"

    def ready(self) -> None:
        from accelerate.selectors import accelerate_health
        from console.audit import audit_vocabulary_register
        from console.products import Product, product_register

        product_register(
            Product(
                key="accelerate",
                name="Accelerate",
                open_access_setting="ACCELERATE_OPEN_ACCESS",
                health=accelerate_health,
            )
        )
        audit_vocabulary_register(
            actions={
                "accelerate.configure": "Accelerate configured",
                "accelerate.update": "Accelerate settings changed",
                "accelerate.enable": "Accelerate enabled",
                "accelerate.disable": "Accelerate disabled",
            },
            details={
                "database": "Database",
                "region": "Region",
                "region_name": "Region name",
                "connection_limit": "Connection limit",
                "pool_timeout_seconds": "Pool timeout (s)",
                "query_timeout_seconds": "Query timeout (s)",
                "response_size_limit_mb": "Response size limit (MB)",
                "changed": "Changed",
            },
        )
