from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Moderation audit log"
    default_auto_field = "django.db.models.BigAutoField"
