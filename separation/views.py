import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from separation.forms import DirectUploadSignForm, DirectUploadStartForm, SongUploadForm
from separation.services.dispatch import (
    JobLimitReached,
    job_cancel,
    job_retry,
    track_direct_submit_finish,
    track_direct_submit_start,
    track_submit,
)
from tracks.access import Need, get_track_or_404
from tracks.models import Track
from tracks.navigation import safe_next_url
from tracks.services import (
    TrackStorageError,
    TrackUploadError,
    direct_upload_for,
    direct_uploads_enabled,
    track_direct_sign,
    track_for_upload_key,
)
from tracks.uploads import may_upload, upload_view


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _upload_context(form: SongUploadForm) -> dict:
    return {
        "form": form,
        "direct": direct_uploads_enabled(),
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
                upload_key=form.cleaned_data["upload_key"],
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


def _json_body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _refused(exc: TrackUploadError) -> JsonResponse:
    return JsonResponse(
        {"errors": [str(exc)]}, status=503 if isinstance(exc, TrackStorageError) else 400
    )


def _made(track: Track) -> JsonResponse:
    url = reverse("tracks:detail", args=[track.id])
    return JsonResponse({"track_id": str(track.id), "redirect": url}, status=201)


def _direct_only(view):
    """The direct upload's endpoints exist only where storage is a bucket."""

    def wrapped(request, *args, **kwargs):
        if not direct_uploads_enabled():
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@user_passes_test(may_upload)
@require_POST
@_direct_only
def direct_start(request):
    """Start or resume an upload straight to the bucket (JSON in, JSON out): the upload's
    id, part size and count, and the parts the bucket already holds; or, when the key
    already made a track, that track (201)."""
    form = DirectUploadStartForm(_json_body(request))
    if not form.is_valid():
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return JsonResponse({"errors": errors}, status=400)
    data = form.cleaned_data
    try:
        plan = track_direct_submit_start(
            owner=request.user,
            upload_key=data["upload_key"],
            filename=data["filename"],
            size=data["size"],
            title=data["title"],
            quality=data["quality"],
        )
    except TrackUploadError as exc:
        return _refused(exc)
    if isinstance(plan, Track):
        return _made(plan)
    return JsonResponse(
        {
            "upload_key": str(plan.upload.upload_key),
            "part_size": plan.upload.part_bytes,
            "part_count": plan.part_count,
            "done_parts": plan.done_parts,
        }
    )


@user_passes_test(may_upload)
@require_POST
@_direct_only
def direct_sign(request, upload_key):
    """Presigned URLs for some parts of the user's own direct upload."""
    upload = direct_upload_for(owner_id=request.user.pk, upload_key=upload_key)
    if upload is None:
        raise Http404
    form = DirectUploadSignForm({"parts": json.dumps(_json_body(request).get("parts"))})
    if not form.is_valid():
        return JsonResponse({"errors": [str(error) for error in form.errors["parts"]]}, status=400)
    urls = track_direct_sign(upload=upload, numbers=form.cleaned_data["parts"])
    return JsonResponse({"urls": {str(n): url for n, url in urls.items()}})


@user_passes_test(may_upload)
@require_POST
@_direct_only
def direct_finish(request, upload_key):
    """Complete and verify the user's direct upload; its track and separation job are made
    as for an upload through this node. Again after a lost answer: the same track."""
    upload = direct_upload_for(owner_id=request.user.pk, upload_key=upload_key)
    if upload is None:
        track = track_for_upload_key(owner_id=request.user.pk, upload_key=upload_key)
        if track is None:
            raise Http404
        return _made(track)
    try:
        track = track_direct_submit_finish(owner=request.user, upload=upload)
    except TrackUploadError as exc:
        return _refused(exc)
    return _made(track)


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
