from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from accounts import throttling

        def forget_own_failures(sender, request, user, **kwargs):
            if request is not None:
                throttling.forget_own_failures(
                    username=user.get_username(), ip_address=throttling.client_ip(request)
                )

        user_logged_in.connect(
            forget_own_failures, dispatch_uid="accounts.forget_own_failures", weak=False
        )
