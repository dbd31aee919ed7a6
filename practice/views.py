"""Exports of a track: ask for one (a form post, or the player's fetch), follow it, download
it; and all the stems as one zip. Every view starts with the one access rule."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.formats import get_export_format
from catalog.stems import STEMS
from practice.dispatch import (
    GAIN,
    ExportError,
    ExportForbidden,
    export_request,
    export_settings_parse,
)
from practice.events import render_urls
from practice.models import Render
from practice.selectors import render_still_heard, renders_of
from practice.services import render_delete
from practice.zipstream import stems_zip_response
from tracks.access import (
    Access,
    Need,
    downloadable_parts,
    get_track_or_404,
    still_allowed,
)
from tracks.media import DownloadName, stored_file_response


def render_state(render: Render) -> dict:
    """What the player reads about a render (the same fields as its live events)."""
    return {
        "id": render.id,
        "track_id": str(render.track_id),
        "label": render.label,
        "source": render.source,
        # A mix's level of every stem, 0..1 (a stem export: its stem at 1), and for a mix
        # the old balance can say, that balance (the vocals' level); else None.
        "gains": {stem.name: render.stem_gains.get(stem.name, 0) / 100 for stem in STEMS},
        "balance": None if render.balance is None else render.balance / 100,
        "tempo": render.tempo / 100,
        "semitones": render.semitones,
        "format": render.format,
        "status": render.status,
        "status_label": render.status_label,
        "progress": render.progress,
        "error": render.error,
        **render_urls(render),
        "delete_url": reverse("practice:delete", args=[render.track_id, render.id]),
    }


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NOT_A_FORM = (
    "Send the export's settings as form data (application/x-www-form-urlencoded or "
    "multipart/form-data); other bodies, JSON included, are not read."
)


@login_required
@require_http_methods(["GET", "POST"])
def exports(request, track_id):
    """GET: the user's exports of this track (JSON). POST: ask for one — `source` ("mix" or
    a stem), a mix's `gain_<stem>` 0..1 for each stem heard (the player sends what it plays)
    or its `balance` 0..1 (the vocals over the full jam track: the export form), `tempo`
    0.5..1.5, `semitones` -6..6, `format` (a name in `catalog.formats`).
    A form gets a redirect to the track page; `Accept: application/json` gets the render's
    state (200 when the file is ready — the cache — 202 while it is being made). Exports
    are downloads: someone who may only play the track (a band's viewer) gets a 403."""
    track, access = get_track_or_404(request.user, track_id, need=Need.EXPORT)
    if request.method == "GET":
        listed = renders_of(track, request.user, access)
        exports = [{**render_state(r), "asked_by": r.asked_by} for r in listed]
        return JsonResponse({"exports": exports})
    if request.content_type not in FORM_TYPES:
        # Django parses only form bodies into request.POST: anything else would silently
        # become the default export, not the one asked for.
        return JsonResponse({"error": NOT_A_FORM}, status=415)
    page = reverse("tracks:detail", args=[track.id]) + "#exports"
    try:
        wanted = export_settings_parse(
            source=request.POST.get("source", ""),
            balance=request.POST.get("balance", ""),
            gains={
                field.removeprefix(GAIN): value
                for field, value in request.POST.items()
                if field.startswith(GAIN)
            },
            tempo=request.POST.get("tempo", ""),
            semitones=request.POST.get("semitones", ""),
            fmt=request.POST.get("format", ""),
        )
        render = export_request(track=track, access=access, user=request.user, wanted=wanted)
    except ExportError as exc:
        status = 403 if isinstance(exc, ExportForbidden) else 400
        if _wants_json(request):
            return JsonResponse({"error": str(exc)}, status=status)
        messages.error(request, str(exc))
        return redirect(page)
    if _wants_json(request):
        return JsonResponse(render_state(render), status=200 if render.asset_id else 202)
    if render.status == Render.Status.DONE:
        messages.success(request, f"Your export is ready: {render.label}.")
    else:
        messages.success(request, f"Export on its way: {render.label}. It appears below.")
    return redirect(page)


def _render_or_404(request, track_id, render_id) -> tuple[Render, Access]:
    track, access = get_track_or_404(request.user, track_id, need=Need.EXPORT)
    render = track.renders.filter(id=render_id).first()
    if render is None or not access.can_export_all(render.parts):
        raise Http404("No such export.")
    render.track = track
    return render, access


@login_required
@require_GET
def status(request, track_id, render_id):
    render, _ = _render_or_404(request, track_id, render_id)
    return JsonResponse(render_state(render))


@login_required
@require_GET
def download(request, track_id, render_id):
    render, _ = _render_or_404(request, track_id, render_id)
    if render.status != Render.Status.DONE or render.asset is None:
        raise Http404("This export is not ready.")
    extension = get_export_format(render.format).extension
    return stored_file_response(
        request,
        render.asset.name,
        download=DownloadName(render.track.title, render.slug, extension),
        still_allowed=render_still_heard(user_id=request.user.pk, render=render),
    )


@login_required
@require_POST
def delete(request, track_id, render_id):
    """The owner deletes an export of her track (whoever asked for it); anyone else takes it
    off their list, and it goes with its file once no one who asked for it is left. A 404
    for an export the user may not see (as the status and download views)."""
    track, access = get_track_or_404(request.user, track_id, need=Need.EXPORT)
    render = track.renders.filter(id=render_id).first()
    visible = render is not None and access.can_export_all(render.parts)
    if visible and not access.can_manage:
        visible = render.requesters.filter(pk=request.user.pk).exists()
    if not visible:
        raise Http404("No such export.")
    render.track = track
    render_delete(render_id=render.id, user=request.user, access=access)
    if _wants_json(request):
        return HttpResponse(status=204)
    messages.success(request, f"Export deleted: {render.label}.")
    return redirect(reverse("tracks:detail", args=[track.id]) + "#exports")


@login_required
@require_GET
def stems_zip(request, track_id):
    """Every stem the user may hear, as WAVs in one zip, streamed."""
    track, access = get_track_or_404(request.user, track_id, need=Need.DOWNLOAD)
    # It stops if the user can no longer download a part they could when it began.
    taken = [part.name for part in downloadable_parts(track, access)]
    check = still_allowed(
        user_id=request.user.pk, track_id=track.id, need=Need.DOWNLOAD, parts=taken
    )
    return stems_zip_response(request, track, access, still_allowed=check)
