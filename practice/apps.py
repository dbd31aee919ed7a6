from django.apps import AppConfig


class PracticeConfig(AppConfig):
    name = "practice"
    verbose_name = "Practice exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from jobs.kinds import register
        from notifications.events import register_relay_source
        from practice.events import render_events_changed_since
        from practice.kind import RENDER

        register(RENDER)
        register_relay_source(render_events_changed_since)
