from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from imports.forms import ImportForm
from imports.services import import_cancel, import_retry, import_submit
from tracks.access import Need, get_track_or_404
from tracks.navigation import safe_next_url
from tracks.services import TrackUploadError


def _context(form: ImportForm) -> dict:
    return {
        "form": form,
        "enabled": settings.JAM_IMPORT_ENABLED,
        "max_mb": settings.JAM_IMPORT_MAX_BYTES // (1024 * 1024),
        "max_minutes": settings.JAM_MAX_DURATION_S / 60,
    }


@login_required
@require_http_methods(["GET", "POST"])
def add_from_link(request):
    """Paste a link: the song joins the library at once, and a worker fetches it."""
    if request.method == "GET":
        return render(request, "imports/add.html", _context(ImportForm()))
    form = ImportForm(request.POST)
    if form.is_valid():
        try:
            track = import_submit(
                owner=request.user,
                url=form.cleaned_data["url"],
                title=form.cleaned_data["title"],
                quality=form.cleaned_data["quality"],
            )
        except TrackUploadError as exc:
            form.add_error("url", str(exc))
        else:
            messages.success(request, f"“{track.title}” is queued: we will fetch it shortly.")
            return redirect(reverse("tracks:detail", args=[track.id]))
    return render(request, "imports/add.html", _context(form), status=400)


@login_required
@require_POST
def import_retry_view(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    job = getattr(track, "import_job", None)
    try:
        retried = job is not None and import_retry(job=job)
    except TrackUploadError as exc:
        messages.error(request, str(exc))
    else:
        if retried:
            messages.success(request, f"“{track.title}” will be fetched again.")
        else:
            messages.error(request, "Only a failed or cancelled import can be retried.")
    return redirect(safe_next_url(request, track))


@login_required
@require_POST
def import_cancel_view(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    job = getattr(track, "import_job", None)
    if job is not None and import_cancel(job=job):
        messages.success(request, f"The import of “{track.title}” is cancelled.")
    else:
        messages.error(request, "Only a queued or running import can be cancelled.")
    return redirect(safe_next_url(request, track))
