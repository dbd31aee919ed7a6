from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracks.forms import RenameForm, UploadForm
from tracks.media import safe_download_name, stored_file_response
from tracks.models import Track
from tracks.selectors import track_list_for_user
from tracks.services import TrackUploadError, track_delete, track_rename, track_upload

AUDIO_KINDS = {"original": "original", "instrumental": "instrumental", "vocals": "vocals"}
STEM_KINDS = {"instrumental": "instrumental", "vocals": "vocals"}
WAVEFORM_KINDS = {
    "original": "waveform_original",
    "instrumental": "waveform_instrumental",
    "vocals": "waveform_vocals",
}


def get_track_or_404(request, track_id) -> Track:
    """The one access check for tracks: the owner gets it, everyone else a 404."""
    return get_object_or_404(track_list_for_user(user=request.user), id=track_id)


def _stored_file_or_404(track: Track, fields: dict[str, str], kind: str):
    """The track's stored file for ``kind`` (a key of ``fields``), or a 404."""
    field = fields.get(kind)
    stored = getattr(track, field) if field else None
    if not stored:
        raise Http404
    return stored


def safe_next_url(request, track: Track) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("tracks:detail", args=[track.id])


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_GET
def library(request):
    query = request.GET.get("q", "").strip()[:200]
    tracks = track_list_for_user(user=request.user, query=query)
    page = Paginator(tracks, settings.JAM_TRACKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "tracks/library.html", {"page": page, "query": query})


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    if request.method == "POST":
        form = UploadForm(
            request.POST,
            request.FILES,
            upload_too_big=getattr(request, "upload_too_big", False),
        )
        if form.is_valid():
            try:
                track = track_upload(
                    owner=request.user,
                    upload=form.cleaned_data["file"],
                    title=form.cleaned_data["title"],
                )
            except TrackUploadError as exc:
                form.add_error("file", str(exc))
            else:
                url = reverse("tracks:detail", args=[track.id])
                if _wants_json(request):
                    return JsonResponse({"track_id": str(track.id), "redirect": url}, status=201)
                messages.success(request, f"“{track.title}” uploaded. Separation is queued.")
                return redirect(url)
        if _wants_json(request):
            errors = [str(error) for errors in form.errors.values() for error in errors]
            return JsonResponse({"errors": errors}, status=400)
        return render(request, "tracks/upload.html", _upload_context(form), status=400)
    return render(request, "tracks/upload.html", _upload_context(UploadForm()))


def _upload_context(form: UploadForm) -> dict:
    return {
        "form": form,
        "max_upload_mb": settings.JAM_MAX_UPLOAD_BYTES / (1024 * 1024),
        "max_minutes": settings.JAM_MAX_DURATION_S / 60,
    }


@login_required
@require_GET
def detail(request, track_id):
    track = get_track_or_404(request, track_id)
    return render(
        request, "tracks/detail.html", {"track": track, "rename_form": RenameForm(instance=track)}
    )


@login_required
@require_GET
def row(request, track_id):
    """The library row of one track, re-fetched by the page when a job changes state."""
    track = get_track_or_404(request, track_id)
    return render(request, "tracks/_row.html", {"track": track})


@login_required
@require_POST
def rename(request, track_id):
    track = get_track_or_404(request, track_id)
    form = RenameForm(request.POST, instance=Track.objects.get(pk=track.pk))
    if form.is_valid():
        track_rename(track=track, title=form.cleaned_data["title"])
        messages.success(request, "Renamed.")
        return redirect(safe_next_url(request, track))
    return render(request, "tracks/detail.html", {"track": track, "rename_form": form}, status=400)


@login_required
@require_POST
def delete(request, track_id):
    track = get_track_or_404(request, track_id)
    title = track.title
    track_delete(track=track)
    messages.success(request, f"“{title}” deleted.")
    return redirect("tracks:library")


@login_required
@require_GET
def audio(request, track_id, kind):
    track = get_track_or_404(request, track_id)
    stored = _stored_file_or_404(track, AUDIO_KINDS, kind)
    return stored_file_response(request, stored.name)


@login_required
@require_GET
def download(request, track_id, kind):
    track = get_track_or_404(request, track_id)
    stored = _stored_file_or_404(track, STEM_KINDS, kind)
    return stored_file_response(
        request, stored.name, download_name=safe_download_name(track.title, kind, ".wav")
    )


@login_required
@require_GET
def waveform(request, track_id, kind):
    track = get_track_or_404(request, track_id)
    stored = _stored_file_or_404(track, WAVEFORM_KINDS, kind)
    return stored_file_response(request, stored.name)
