from django.apps import AppConfig


class SeparationConfig(AppConfig):
    name = "separation"
    verbose_name = "Separation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs.kinds import register
        from notifications.events import register_relay_source
        from separation.events import job_events_changed_since
        from separation.kind import SEPARATION

        register(SEPARATION)
        register_relay_source(job_events_changed_since)
