from django.apps import AppConfig


class TracksConfig(AppConfig):
    name = "tracks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from notifications.events import register_event_check
        from tracks.access import may_hear_event

        register_event_check(may_hear_event)
