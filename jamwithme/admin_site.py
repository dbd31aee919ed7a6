"""The admin site: Django's, but a moderator's front page is the queue of reports
(tracks/console.py); other staff get the stock index."""

from django.contrib.admin import AdminSite

from tracks import console
from tracks.access import is_moderator


class JamAdminSite(AdminSite):
    site_header = "JamWithMe administration"
    site_title = "JamWithMe admin"

    def index(self, request, extra_context=None):
        if is_moderator(request.user):
            return console.queue(request, self, extra_context)
        return super().index(request, extra_context)
