from django.apps import AppConfig


class JamWithMeConfig(AppConfig):
    name = "jamwithme"

    def ready(self):
        from jamwithme import checks  # noqa: F401  (registers the deploy checks)
