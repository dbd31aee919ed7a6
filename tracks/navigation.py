from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tracks.models import Track


def is_safe_here(request, target: str) -> bool:
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def safe_next_url(request, track: Track) -> str:
    """Where to go after acting on a track: the form's `next` if it stays on this site,
    else the track's page."""
    target = request.POST.get("next", "")
    return target if is_safe_here(request, target) else reverse("tracks:detail", args=[track.id])
