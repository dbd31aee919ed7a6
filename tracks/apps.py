from django.apps import AppConfig


class TracksConfig(AppConfig):
    name = "tracks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save, pre_delete

        from bands.models import Band, Membership
        from bands.signals import membership_changed, membership_ended
        from jobs.kinds import register_chore
        from notifications.events import register_event_check
        from tracks import sharing
        from tracks.access import may_hear_event
        from tracks.services import direct_uploads_sweep, track_retry_file_deletions

        register_event_check(may_hear_event)
        # Every worker's sweep retries the file deletions storage refused earlier.
        register_chore(track_retry_file_deletions)
        # ... and aborts multipart uploads left incomplete (a killed worker's, a browser's).
        register_chore(direct_uploads_sweep)
        # Whoever loses a track is told at once (open pages stop playing it).
        membership_ended.connect(
            sharing.on_membership_ended, sender=Membership, dispatch_uid="tracks"
        )
        # A changed role changes what its pages may offer (a viewer downloads nothing).
        membership_changed.connect(
            sharing.on_membership_changed, sender=Membership, dispatch_uid="tracks"
        )
        pre_delete.connect(sharing.on_band_deleted, sender=Band, dispatch_uid="tracks")
        post_save.connect(sharing.on_user_saved, sender=get_user_model(), dispatch_uid="tracks")
