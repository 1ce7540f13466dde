from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Connects the receiver that wakes waiting orders when pools change.
        from orders import triggers  # noqa: F401
