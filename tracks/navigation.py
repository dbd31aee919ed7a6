from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tracks.models import Track


def safe_next_url(request, track: Track) -> str:
    """Where to go after acting on a track: the form's `next` if it stays on this site,
    else the track's page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("tracks:detail", args=[track.id])
