from django.apps import AppConfig


class BandsConfig(AppConfig):
    name = "bands"
    default_auto_field = "django.db.models.BigAutoField"
