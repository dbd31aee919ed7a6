from django.apps import AppConfig


class TracksConfig(AppConfig):
    name = "tracks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from bands.models import Membership
        from bands.signals import membership_ended
        from notifications.events import register_event_check
        from tracks.access import may_hear_event
        from tracks.sharing import on_membership_ended

        register_event_check(may_hear_event)
        membership_ended.connect(on_membership_ended, sender=Membership, dispatch_uid="tracks")
