from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.contrib.admin import apps as admin_apps


class JamWithMeConfig(AppConfig):
    name = "jamwithme"
    default = True  # the app's own; JamAdminConfig below is named in INSTALLED_APPS

    def ready(self):
        from jamwithme import checks  # noqa: F401  (registers the deploy checks)

        _make_sqlite_folders()


class JamAdminConfig(admin_apps.AdminConfig):
    """The admin, with the site whose front page is the moderators' queue."""

    default = False

    default_site = "jamwithme.admin_site.JamAdminSite"


def _make_sqlite_folders() -> None:
    """The folder of each SQLite database (var/ by default), made when the apps are ready:
    SQLite makes the file but not its folder, and settings only name them."""
    for database in settings.DATABASES.values():
        name = str(database.get("NAME") or "")
        in_memory_or_uri = name.startswith((":memory:", "file:"))
        if database["ENGINE"].endswith("sqlite3") and name and not in_memory_or_uri:
            Path(name).parent.mkdir(parents=True, exist_ok=True)
