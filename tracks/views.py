from pathlib import PurePath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tracks.access import get_track_or_404, track_access
from tracks.forms import RenameForm
from tracks.media import safe_download_name, stored_file_response
from tracks.models import Track
from tracks.navigation import is_safe_here, safe_next_url
from tracks.selectors import storage_use_for_user, track_list_for_user
from tracks.services import track_delete, track_rename


@login_required
@require_GET
def library(request):
    query = request.GET.get("q", "").strip()[:200]
    tracks = track_list_for_user(user=request.user, query=query)
    page = Paginator(tracks, settings.JAM_TRACKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(track, track_access(request.user, track)) for track in page.object_list]
    storage = storage_use_for_user(user_id=request.user.pk)
    return render(
        request,
        "tracks/library.html",
        {"page": page, "rows": rows, "query": query, "storage": storage},
    )


def _detail_context(track: Track, access, rename_form=None) -> dict:
    return {
        "track": track,
        "access": access,
        "rename_form": rename_form or RenameForm(instance=track),
        # Also after a refused rename, whose page is rendered at the rename URL.
        "next_url": reverse("tracks:detail", args=[track.id]),
    }


@login_required
@require_GET
def detail(request, track_id):
    track, access = get_track_or_404(request.user, track_id)
    return render(request, "tracks/detail.html", _detail_context(track, access))


@login_required
@require_GET
def row(request, track_id):
    """The library row of one track, re-fetched by the page when its job changes state."""
    track, access = get_track_or_404(request.user, track_id)
    # The page the row sits on (library search and page included), passed by the script.
    page = request.GET.get("page_url", "")
    next_url = page if is_safe_here(request, page) else reverse("tracks:library")
    context = {"track": track, "access": access, "next_url": next_url}
    return render(request, "tracks/_row.html", context)


@login_required
@require_GET
def panel(request, track_id):
    """The track page's status and players, re-fetched when its job changes state; the page
    adds the players it lacks and leaves the ones playing alone."""
    track, access = get_track_or_404(request.user, track_id)
    next_url = reverse("tracks:detail", args=[track.id])
    context = {"track": track, "access": access, "next_url": next_url}
    return render(request, "tracks/_panel.html", context)


@login_required
@require_POST
def rename(request, track_id):
    track, access = get_track_or_404(request.user, track_id, need="manage")
    form = RenameForm(request.POST, instance=Track.objects.get(pk=track.pk))
    if form.is_valid():
        track_rename(track=track, title=form.cleaned_data["title"])
        messages.success(request, "Renamed.")
        return redirect(safe_next_url(request, track))
    return render(request, "tracks/detail.html", _detail_context(track, access, form), status=400)


@login_required
@require_POST
def delete(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need="manage")
    deletion = track_delete(track=track)
    if deletion.files_left:
        messages.warning(
            request,
            f"“{deletion.title}” is deleted, but storage refused to remove its files just "
            "now. They will be removed automatically.",
        )
    else:
        messages.success(request, f"“{deletion.title}” deleted.")
    return redirect("tracks:library")


def _part_or_404(track: Track, name: str):
    part = track.part(name)
    if part is None:
        raise Http404
    return part


@login_required
@require_GET
def audio(request, track_id, kind):
    track, _ = get_track_or_404(request.user, track_id)
    part = _part_or_404(track, kind)
    if part.audio is None:
        raise Http404
    return stored_file_response(request, part.audio.name)


@login_required
@require_GET
def download(request, track_id, kind):
    track, _ = get_track_or_404(request.user, track_id)
    part = _part_or_404(track, kind)
    if not part.downloadable or part.audio is None:
        raise Http404
    extension = PurePath(part.audio.name).suffix
    return stored_file_response(
        request, part.audio.name, download_name=safe_download_name(track.title, kind, extension)
    )


@login_required
@require_GET
def waveform(request, track_id, kind):
    track, _ = get_track_or_404(request.user, track_id)
    part = _part_or_404(track, kind)
    if part.waveform is None:
        raise Http404
    return stored_file_response(request, part.waveform.name)
