from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from notifications import signals

        user_logged_out.connect(signals.close_sockets_on_logout, dispatch_uid="notify-logout")
        post_save.connect(
            signals.follow_account_changes,
            sender=get_user_model(),
            dispatch_uid="notify-account-changed",
        )
