from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from separation.forms import SongUploadForm
from separation.services.dispatch import JobLimitReached, job_cancel, job_retry, track_submit
from tracks.access import Need, get_track_or_404
from tracks.navigation import safe_next_url
from tracks.services import TrackStorageError, TrackUploadError
from tracks.uploads import may_upload, upload_view


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _upload_context(form: SongUploadForm) -> dict:
    return {
        "form": form,
        "max_upload_mb": settings.JAM_MAX_UPLOAD_BYTES / (1024 * 1024),
        "max_minutes": settings.JAM_MAX_DURATION_S / 60,
    }


@upload_view
@user_passes_test(may_upload)  # the rule the body limit applies too (jamwithme/limits.py)
@require_http_methods(["GET", "POST"])
def upload(request):
    """Upload a song: store it and queue its separation."""
    if request.method == "GET":
        return render(request, "separation/upload.html", _upload_context(SongUploadForm()))
    form = SongUploadForm(
        request.POST, request.FILES, upload_too_big=getattr(request, "upload_too_big", False)
    )
    status = 400
    if form.is_valid():
        try:
            track = track_submit(
                owner=request.user,
                upload=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
                quality=form.cleaned_data["quality"],
            )
        except TrackUploadError as exc:
            form.add_error("file", str(exc))
            if isinstance(exc, TrackStorageError):
                status = 503
        else:
            url = reverse("tracks:detail", args=[track.id])
            if _wants_json(request):
                return JsonResponse({"track_id": str(track.id), "redirect": url}, status=201)
            messages.success(request, f"“{track.title}” uploaded. Separation is queued.")
            return redirect(url)
    if _wants_json(request):
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return JsonResponse({"errors": errors}, status=status)
    return render(request, "separation/upload.html", _upload_context(form), status=status)


@login_required
@require_POST
def job_retry_view(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    job = getattr(track, "job", None)
    try:
        retried = job is not None and job_retry(job=job)
    except JobLimitReached as exc:
        messages.error(request, str(exc))
    else:
        if retried:
            messages.success(request, f"“{track.title}” is queued again.")
        else:
            messages.error(request, "Only a failed or cancelled separation can be retried.")
    return redirect(safe_next_url(request, track))


@login_required
@require_POST
def job_cancel_view(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    job = getattr(track, "job", None)
    if job is not None and job_cancel(job=job):
        messages.success(request, f"Separation of “{track.title}” cancelled.")
    else:
        messages.error(request, "Only a queued or running separation can be cancelled.")
    return redirect(safe_next_url(request, track))
