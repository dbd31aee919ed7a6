import uuid
from pathlib import PurePath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from bands.selectors import bands_of, membership_of
from catalog import shares
from catalog.shares import DEFAULT_SCOPE, get_share_scope
from catalog.stems import JAM_TRACK, PART_NAMES, get_stem
from tracks.access import (
    Access,
    Need,
    audible_parts,
    downloadable_parts,
    get_track_or_404,
    link_access,
    still_allowed,
    track_access_many,
)
from tracks.cards import library_cards
from tracks.forms import RenameForm, ReportForm
from tracks.media import DownloadName, stored_file_response
from tracks.models import ShareLink, Track
from tracks.moderation import ModerationError, report_create
from tracks.navigation import is_safe_here, safe_next_url
from tracks.parts import played_together, track_part
from tracks.ratelimit import rate_limited
from tracks.selectors import (
    storage_use_for_user,
    track_list_for_band,
    track_list_for_user,
    track_list_shared_with,
)
from tracks.services import track_delete, track_rename
from tracks.sharing import (
    LINK_LIFETIMES_DAYS,
    SharingError,
    link_lifetime_parse,
    share_link_create,
    share_link_find,
    share_link_revoke,
    track_share,
    track_share_many,
)


def _library_page(request, tracks, **context):
    query = request.GET.get("q", "").strip()[:200]
    page = Paginator(tracks(query), settings.JAM_TRACKS_PER_PAGE).get_page(request.GET.get("page"))
    cards = library_cards(track_access_many(request.user, list(page.object_list)))
    return render(
        request, "tracks/library.html", {"page": page, "cards": cards, "query": query, **context}
    )


@login_required
@require_GET
def library(request):
    """The user's own tracks, with bulk sharing to their bands."""
    return _library_page(
        request,
        lambda query: track_list_for_user(user=request.user, query=query),
        view="mine",
        storage=storage_use_for_user(user_id=request.user.pk),
        bands=list(bands_of(user_id=request.user.pk)),
        share_scopes=shares.SHARE_SCOPES,
        default_scope=DEFAULT_SCOPE,
    )


@login_required
@require_GET
def shared(request):
    """Tracks others shared with the user's bands."""
    return _library_page(
        request,
        lambda query: track_list_shared_with(user=request.user, query=query),
        view="shared",
    )


@login_required
@require_GET
def band_library(request, band_id):
    """One band's library; members only (anyone else: 404)."""
    membership = membership_of(user_id=request.user.pk, band_id=band_id)
    if membership is None:
        raise Http404("No such band.")
    return _library_page(
        request,
        lambda query: track_list_for_band(band_id=band_id, query=query),
        view="band",
        band=membership.band,
    )


def _detail_context(track: Track, access, rename_form=None) -> dict:
    parts = audible_parts(track, access)
    context = {
        "track": track,
        "access": access,
        "parts": parts,
        "downloads": downloadable_parts(track, access),
        "player_parts": played_together(parts),
        "rename_form": rename_form or RenameForm(instance=track),
        # Also after a refused rename, whose page is rendered at the rename URL.
        "next_url": reverse("tracks:detail", args=[track.id]),
    }
    if not access.hears_all:
        context["shared_parts"] = _parts_sentence(access)
    if access.can_manage:
        band_scopes = dict(track.shares.values_list("band_id", "scope"))
        context["bands"] = [
            (band, band.id in band_scopes) for band in bands_of(user_id=track.owner_id)
        ]
        # The bands' scope, when they share one (none ticked when they differ).
        scopes = set(band_scopes.values()) or {DEFAULT_SCOPE}
        context["band_scope"] = scopes.pop() if len(scopes) == 1 else None
        context["share_scopes"] = shares.SHARE_SCOPES  # read now: the registry's rows
        context["default_scope"] = DEFAULT_SCOPE
        links = track.share_links.filter(revoked_at=None).select_related("track__owner")
        context["links"] = [
            (link, link_access(link), get_share_scope(link.scope)) for link in links
        ]
        context["link_lifetimes"] = LINK_LIFETIMES_DAYS
    if access.can_report:
        context["report_form"] = ReportForm()
    return context


def _parts_sentence(access) -> str:
    """What a bandmate who hears only some parts is told: "the jam track only"."""
    heard = [name for name in PART_NAMES if access.can_hear(name)]
    if heard == [JAM_TRACK]:
        return "the jam track only"
    labels = [get_stem(name).label if get_stem(name) else "the original" for name in heard]
    return " and ".join(filter(None, (", ".join(labels[:-1]), labels[-1]))) + " only"


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
    [card] = library_cards([(track, access)])
    context = {"card": card, "next_url": next_url}
    if access.can_manage:
        context["bands"] = list(bands_of(user_id=request.user.pk))  # the bulk-share tick box
    return render(request, "tracks/_row.html", context)


@login_required
@require_GET
def panel(request, track_id):
    """The track page's status and players, re-fetched when its job changes state; the page
    adds the players it lacks and leaves the ones playing alone."""
    track, access = get_track_or_404(request.user, track_id)
    next_url = reverse("tracks:detail", args=[track.id])
    parts = audible_parts(track, access)
    context = {
        "track": track,
        "access": access,
        "parts": parts,
        "downloads": downloadable_parts(track, access),
        "player_parts": played_together(parts),
        "next_url": next_url,
    }
    return render(request, "tracks/_panel.html", context)


@login_required
@require_POST
def rename(request, track_id):
    track, access = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    form = RenameForm(request.POST, instance=Track.objects.get(pk=track.pk))
    if form.is_valid():
        track_rename(track=track, title=form.cleaned_data["title"])
        messages.success(request, "Renamed.")
        return redirect(safe_next_url(request, track))
    return render(request, "tracks/detail.html", _detail_context(track, access, form), status=400)


@login_required
@require_POST
def delete(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
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


@login_required
@require_POST
def share(request, track_id):
    """The owner sets which of their bands hear the track, and what they hear (a scope)."""
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    try:
        track_share(
            track=track,
            by=request.user,
            band_ids=request.POST.getlist("band"),
            scope=request.POST.get("scope", ""),
        )
    except SharingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Sharing saved.")
    return redirect("tracks:detail", track.id)


@login_required
@require_POST
def share_bulk(request):
    """The library's bulk action: share the ticked tracks with one band."""
    tracks = list(Track.objects.filter(owner=request.user, id__in=_uuids(request, "track")))
    if not tracks:
        messages.error(request, "Tick the tracks you want to share.")
        return redirect("tracks:library")
    band_ids = _uuids(request, "band")
    if not band_ids:
        messages.error(request, "Choose a band.")
        return redirect("tracks:library")
    try:
        count = track_share_many(
            tracks=tracks,
            by=request.user,
            band_id=band_ids[0],
            scope=request.POST.get("scope", DEFAULT_SCOPE),
        )
    except SharingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Shared {count} track{'s' if count != 1 else ''}.")
    return redirect("tracks:library")


def _uuids(request, name: str) -> list[str]:
    ids = []
    for value in request.POST.getlist(name):
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return ids


@login_required
@require_POST
def link_create(request, track_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    try:
        days = link_lifetime_parse(request.POST.get("expires_in_days"))
        _, token = share_link_create(
            track=track,
            by=request.user,
            expires_in_days=days,
            scope=request.POST.get("scope", DEFAULT_SCOPE),
        )
    except SharingError as exc:
        messages.error(request, str(exc))
    else:
        url = request.build_absolute_uri(reverse("tracks:link", args=[token]))
        # Shown once: only the token's hash is kept.
        messages.success(request, f"New share link (copy it now, it is shown only once): {url}")
    return redirect("tracks:detail", track.id)


@login_required
@require_POST
def link_revoke(request, track_id, link_id):
    track, _ = get_track_or_404(request.user, track_id, need=Need.MANAGE)
    link = track.share_links.filter(id=link_id).first()
    if link is None:
        raise Http404
    share_link_revoke(link=link, by=request.user)
    messages.success(request, "Link revoked: it no longer opens anything.")
    return redirect("tracks:detail", track.id)


@login_required
@require_POST
def report(request, track_id):
    track, _ = get_track_or_404(request.user, track_id)
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            report_create(
                track=track,
                reporter=request.user,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
            )
        except ModerationError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Thank you. The moderators will look at it.")
    else:
        messages.error(request, "Choose a reason for your report.")
    return redirect("tracks:detail", track.id)


def _part_or_404(track: Track, name: str, access: Access):
    part = track_part(track, name)
    if part is None or not access.can_hear(name):
        raise Http404
    return part


def _serve_part(request, track, access, kind: str, what: str, still_allowed):
    part = _part_or_404(track, kind, access)
    if what in ("waveform", "peaks"):
        picture_or_data = part.waveform if what == "waveform" else part.peaks
        if picture_or_data is None:
            raise Http404
        return stored_file_response(request, picture_or_data.name)
    if part.audio is None or (what == "download" and not part.downloadable):
        raise Http404
    if what == "download" and not access.can_download_part(kind):
        raise PermissionDenied  # heard, but shared to download by none of their bands
    download = None
    if what == "download":
        download = DownloadName(track.title, kind, PurePath(part.audio.name).suffix)
    return stored_file_response(
        request, part.audio.name, download=download, still_allowed=still_allowed
    )


@login_required
@require_GET
def audio(request, track_id, kind):
    track, access = get_track_or_404(request.user, track_id)
    check = still_allowed(user_id=request.user.pk, track_id=track.id, need=Need.PLAY, parts=[kind])
    return _serve_part(request, track, access, kind, "audio", check)


@login_required
@require_GET
def download(request, track_id, kind):
    track, access = get_track_or_404(request.user, track_id, need=Need.DOWNLOAD)
    check = still_allowed(
        user_id=request.user.pk, track_id=track.id, need=Need.DOWNLOAD, parts=[kind]
    )
    return _serve_part(request, track, access, kind, "download", check)


@login_required
@require_GET
def waveform(request, track_id, kind):
    track, access = get_track_or_404(request.user, track_id)
    return _serve_part(request, track, access, kind, "waveform", None)


@login_required
@require_GET
def peaks(request, track_id, kind):
    """The player's waveform data of a part, under the same rule as its picture."""
    track, access = get_track_or_404(request.user, track_id)
    return _serve_part(request, track, access, kind, "peaks", None)


# --- Share links: no account needed, read-only, rate-limited ------------------------------


def _link_or_404(request, token: str):
    link = share_link_find(token)
    access = link_access(link) if link is not None else Access.NONE
    if not access.can_play:
        raise Http404("This link does not open anything (any more).")
    return link, access


def _link_still_works(link_id, kind: str):
    def check() -> bool:
        link = ShareLink.objects.select_related("track", "track__owner").filter(id=link_id).first()
        return bool(link and link_access(link).can_hear(kind))

    return check


@rate_limited
@require_GET
def link(request, token):
    """What someone without an account sees: the jam track (and the vocals if allowed)."""
    shared_link, access = _link_or_404(request, token)
    track = shared_link.track
    parts = audible_parts(track, access)
    context = {"track": track, "access": access, "parts": parts, "token": token}
    context["player_parts"] = [part for part in played_together(parts) if part.stem]
    return render(request, "tracks/link.html", context)


@rate_limited
@require_GET
def link_audio(request, token, kind):
    shared_link, access = _link_or_404(request, token)
    check = _link_still_works(shared_link.id, kind)
    return _serve_part(request, shared_link.track, access, kind, "audio", check)


@rate_limited
@require_GET
def link_download(request, token, kind):
    shared_link, access = _link_or_404(request, token)
    check = _link_still_works(shared_link.id, kind)
    return _serve_part(request, shared_link.track, access, kind, "download", check)


@rate_limited
@require_GET
def link_waveform(request, token, kind):
    shared_link, access = _link_or_404(request, token)
    return _serve_part(request, shared_link.track, access, kind, "waveform", None)


@rate_limited
@require_GET
def link_peaks(request, token, kind):
    shared_link, access = _link_or_404(request, token)
    return _serve_part(request, shared_link.track, access, kind, "peaks", None)
