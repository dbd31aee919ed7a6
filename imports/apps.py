from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = "Imports from links"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from imports.events import import_events_changed_since
        from imports.kind import IMPORT
        from jobs.kinds import register
        from notifications.events import register_relay_source

        register(IMPORT)
        register_relay_source(import_events_changed_since)
