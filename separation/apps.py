from django.apps import AppConfig


class SeparationConfig(AppConfig):
    name = "separation"
    verbose_name = "Separation"
    default_auto_field = "django.db.models.BigAutoField"
