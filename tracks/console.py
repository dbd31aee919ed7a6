"""The moderation console, inside the admin (custom admin views, added by `ReportAdmin`'s
`get_urls`; the queue is also the admin's front page for moderators, `JamAdminSite.index`).

* the queue: tracks with open reports first, the oldest open report first, with counts;
  then the tracks whose reports were closed most recently;
* the review page of a track: the practice player for every part, the owner and their
  history (earlier reports, earlier actions), shares and links, every report;
* one-click actions there, each with a reason for the log and, apart, an optional message
  to the owner (from the templates in `catalog.moderation`, or written); removing the track
  and suspending the owner are kept apart and confirmed on a page of their own.

Moderators only (`is_moderator`): other staff get 403, everyone else the admin's login.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Min, Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.mail import site_url as mail_site_url
from audit.models import AuditEntry
from catalog.moderation import MESSAGE_TEMPLATES, get_message_template
from tracks.access import (
    audible_parts,
    downloadable_parts,
    is_moderator,
    link_access,
    track_access,
)
from tracks.models import Report, Track
from tracks.moderation import (
    owner_suspend,
    reports_dismiss,
    track_hide,
    track_remove,
    track_unhide,
)
from tracks.parts import played_together

# --- Reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueRow:
    track: Track
    open_count: int
    total_count: int
    oldest_open: object
    last_report: object
    reasons: list[tuple[str, int]]  # open reports per reason, as (label, count)


def report_queue(*, closed_limit: int = 20) -> tuple[list[QueueRow], list[QueueRow]]:
    """Tracks with open reports (the oldest open report first), then the tracks whose
    reports are all closed (the latest report first, at most `closed_limit`)."""
    open_filter = Q(reports__resolved_at=None)
    tracks = (
        Track.objects.filter(reports__isnull=False)
        .select_related("owner")
        .annotate(
            open_count=Count("reports", filter=open_filter),
            total_count=Count("reports"),
            oldest_open=Min("reports__created_at", filter=open_filter),
            last_report=Max("reports__created_at"),
        )
    )
    waiting = list(tracks.filter(open_count__gt=0).order_by("oldest_open"))
    closed = list(tracks.filter(open_count=0).order_by("-last_report")[:closed_limit])
    per_reason: dict = {}
    labels = dict(Report.Reason.choices)
    counted = (
        Report.objects.filter(track__in=[t.pk for t in waiting], resolved_at=None)
        .values("track_id", "reason")
        .annotate(n=Count("id"))
        .order_by("track_id", "-n", "reason")
    )
    for row in counted:
        per_reason.setdefault(row["track_id"], []).append((labels[row["reason"]], row["n"]))

    def row(track):
        return QueueRow(
            track,
            track.open_count,
            track.total_count,
            track.oldest_open,
            track.last_report,
            per_reason.get(track.pk, []),
        )

    return [row(t) for t in waiting], [row(t) for t in closed]


def owner_history(*, owner, track: Track) -> dict:
    """The owner's earlier reports (on any track of theirs, removed ones too) and the
    moderators' earlier actions on them or their tracks, newest first."""
    earlier = (
        Report.objects.filter(track_owner=owner)
        .exclude(track=track)
        .select_related("reporter", "resolved_by")
        .order_by("-created_at")[:50]
    )
    track_ids = {str(pk) for pk in Track.objects.filter(owner=owner).values_list("pk", flat=True)}
    actions = AuditEntry.objects.filter(
        Q(subject=owner)
        | Q(target_type="user", target_id=str(owner.pk))
        | Q(target_type="track", target_id__in=track_ids)
    )[:50]
    return {"earlier_reports": list(earlier), "actions": list(actions)}


def review_context(*, track: Track, moderator) -> dict:
    access = track_access(moderator, track)
    parts = audible_parts(track, access)
    reports = track.reports.select_related("reporter", "resolved_by", "decision").order_by(
        "-resolved_at", "created_at"
    )
    reports = sorted(reports, key=lambda r: (not r.is_open, r.created_at))
    owner = track.owner
    return {
        "track": track,
        "access": access,
        "player_parts": played_together(parts),
        "downloads": downloadable_parts(track, access),
        "owner": owner,
        "owner_suspension": getattr(owner, "suspension", None) if not owner.is_active else None,
        "owner_tracks": Track.objects.filter(owner=owner).count(),
        "reports": reports,
        "open_reports": [r for r in reports if r.is_open],
        "shares": list(track.shares.select_related("band", "shared_by")),
        "links": [(link, link_access(link)) for link in track.share_links.filter(revoked_at=None)],
        "message_templates": MESSAGE_TEMPLATES,
        **owner_history(owner=owner, track=track),
    }


# --- Views ---------------------------------------------------------------------------------


def _moderator_only(request) -> None:
    if not is_moderator(request.user):
        raise PermissionDenied


def queue(request, site, extra_context=None):
    """The queue (also the admin's front page for moderators: `JamAdminSite.index`)."""
    _moderator_only(request)
    waiting, closed = report_queue()
    context = {
        **site.each_context(request),
        "title": "Reports to review",
        "subtitle": None,
        "app_list": site.get_app_list(request),
        "waiting": waiting,
        "closed": closed,
        "open_reports": sum(row.open_count for row in waiting),
        **(extra_context or {}),
    }
    return TemplateResponse(request, "admin/tracks/queue.html", context)


def _track(track_id) -> Track:
    track = (
        Track.objects.select_related("owner", "owner__suspension", "job")
        .with_assets()
        .filter(id=track_id)
        .first()
    )
    if track is None:
        raise Http404
    return track


def review(request, site, track_id):
    _moderator_only(request)
    track = _track(track_id)
    context = {
        **site.each_context(request),
        "title": f"Review “{track.title}”",
        "subtitle": None,
        **review_context(track=track, moderator=request.user),
    }
    return TemplateResponse(request, "admin/tracks/review.html", context)


# Actions: (label, whether it is destructive and confirmed on a page of its own).
ACTIONS = {
    "hide": ("Hide the track", False),
    "unhide": ("Unhide the track", False),
    "dismiss": ("Dismiss the reports", False),
    "remove": ("Remove the track and its files", True),
    "suspend": ("Suspend the owner", True),
}


def _message(post) -> str:
    """The message to the owner: what the moderator wrote, or the chosen template's text."""
    written = post.get("message", "").strip()
    if written:
        return written[:2000]
    template = get_message_template(post.get("template", ""))
    return template.text if template else ""


def act(request, site, track_id, action):
    _moderator_only(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if action not in ACTIONS:
        raise Http404
    track = _track(track_id)
    label, destructive = ACTIONS[action]
    post = request.POST
    reason = post.get("reason", "").strip()
    review_url = reverse("admin:tracks_report_review", args=[track.id])
    if not reason:
        messages.error(request, f"{label}: give a reason (it goes in the audit log).")
        return redirect(review_url)
    if destructive and post.get("confirmed") != "yes":
        context = {
            **site.each_context(request),
            "title": f"{label}?",
            "subtitle": None,
            "track": track,
            "action": action,
            "label": label,
            "reason": reason,
            "message": _message(post),
            "tell_reporters": bool(post.get("tell_reporters")),
            "open_reports": track.reports.filter(resolved_at=None).count(),
        }
        return TemplateResponse(request, "admin/tracks/confirm.html", context)
    tell = bool(post.get("tell_reporters"))
    message = _message(post)
    by = request.user
    site_url = mail_site_url(request)  # for the owner's e-mail: JAM_SITE_URL, else this host
    try:
        if action == "hide":
            track_hide(
                track=track,
                by=by,
                reason=reason,
                message=message,
                tell_reporters=tell,
                site_url=site_url,
            )
        elif action == "unhide":
            track_unhide(track=track, by=by, reason=reason, message=message, site_url=site_url)
        elif action == "dismiss":
            reports_dismiss(track=track, by=by, reason=reason, tell_reporters=tell)
        elif action == "remove":
            track_remove(track=track, by=by, reason=reason, message=message, tell_reporters=tell)
            messages.success(request, f"“{track.title}” removed.")
            return redirect("admin:tracks_report_queue")
        elif action == "suspend":
            owner_suspend(track=track, by=by, reason=reason, tell_reporters=tell)
    except ValueError as exc:  # ModerationError, SuspensionError
        messages.error(request, f"{label}: {exc}")
    else:
        messages.success(request, f"{label}: done.")
    return redirect(review_url)
