"""What moderators do to tracks, and what users report to them.

Every report is kept. A decision (hide, remove, suspend the owner, dismiss) closes the
track's open reports together, with what was done, and is recorded in the audit log in the
same transaction. Each takes two texts that never mix: the **reason**, for the audit log
and the moderators, and an optional **message** to the owner, which is all the owner is
shown (live on their open pages and by e-mail, sent once the decision commits). The people
who lose access are told at once over the socket; the reporters, when the moderator asks,
are told that their report was looked at (not what the reason was)."""

import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.services import user_suspend
from accounts.text import strip_bidi
from audit.models import AuditEntry
from audit.services import audit_record
from tracks.access import track_access, track_audience
from tracks.events import report_closed_publish, track_moderated_publish, track_revoked_publish
from tracks.models import Report, Track
from tracks.services import TrackDeletion, track_delete

logger = logging.getLogger(__name__)


class ModerationError(ValueError):
    """Refused; the message is shown as is."""


def _need_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ModerationError("Give a reason: it goes in the audit log.")
    return reason


def report_create(
    *, track: Track, reporter: AbstractBaseUser, reason: str, details: str = ""
) -> Report:
    """A report from someone who can see the track (not its owner). Every report is a row
    of its own: reporting again adds to the history, it replaces nothing."""
    if not track_access(reporter, track).can_report:
        raise ModerationError("You cannot report this track.")
    if reason not in Report.Reason.values:
        raise ModerationError("Choose a reason.")
    return Report.objects.create(
        track=track,
        track_ref=track.id,
        track_title=track.title,
        track_owner_id=track.owner_id,
        reporter=reporter,
        reason=reason,
        details=(details or "").strip()[:2000],
    )


def _close_reports(track: Track, by, resolution: str, entry: AuditEntry | None) -> list[int]:
    """Close the track's open reports with the decision; the ids of those closed."""
    open_reports = Report.objects.filter(track=track, resolved_at=None)
    ids = list(open_reports.values_list("pk", flat=True))
    Report.objects.filter(pk__in=ids).update(
        resolved_at=timezone.now(), resolved_by=by, resolution=resolution, decision=entry
    )
    return ids


def _after_commit_tell_reporters(report_ids: list[int], tell: bool) -> None:
    if tell and report_ids:
        transaction.on_commit(lambda: reporters_tell(report_ids=report_ids))


def reporters_tell(*, report_ids: list[int]) -> None:
    """Tell each reporter, once, that their report was looked at (live and by e-mail). Run
    after the decision commits. The moderator's reason is not theirs to read."""
    reports = Report.objects.filter(pk__in=report_ids, reporter_told_at=None).select_related(
        "reporter"
    )
    told = set()
    for report in reports:
        reporter = report.reporter
        if reporter is None or reporter.pk in told:
            continue
        told.add(reporter.pk)
        acted = report.resolution != Report.Resolution.DISMISSED
        message = f"A moderator looked at your report of “{report.track_title}” and " + (
            "acted on it." if acted else "left the track as it is."
        )
        report_closed_publish(user_id=reporter.pk, report_id=report.pk, message=message)
        if reporter.email:
            context = {"username": reporter.get_username(), "message": message}
            _mail(reporter.email, "tracks/email/report_closed", context)
    Report.objects.filter(pk__in=report_ids).update(reporter_told_at=timezone.now())


def _mail(to: str, template: str, context: dict) -> None:
    """Send one notice (called after commit); a mail server that fails is logged, and the
    decision, committed already, stands."""
    subject = " ".join(strip_bidi(render_to_string(f"{template}_subject.txt", context)).split())
    try:
        send_mail(subject, render_to_string(f"{template}_email.txt", context), None, [to])
    except OSError:  # smtplib's errors included
        logger.warning("Could not send a moderation notice", exc_info=True)


OWNER_NOTICES = {
    "hidden": "The moderators hid “{title}”: only you can see it now.",
    "removed": "The moderators removed “{title}”.",
    "unhidden": "The moderators made “{title}” available again.",
}


def owner_tell(
    *, owner, track_id, title: str, action: str, message: str, site_url: str = ""
) -> None:
    """The owner's live notice on every open page and an e-mail, with the moderators'
    message (never the reason). Run after the decision commits. The e-mail's link starts
    with ``site_url`` (the address the moderator reached the site at, as sign-up mail
    does), or JAM_SITE_URL without one."""
    notice = OWNER_NOTICES[action].format(title=title)
    track_moderated_publish(
        owner_id=owner.pk,
        track_id=track_id,
        action=action,
        notice=notice,
        message=message,
    )
    if owner.email:
        url = ""
        if action != "removed":
            url = (site_url or settings.JAM_SITE_URL) + reverse("tracks:detail", args=[track_id])
        context = {
            "username": owner.get_username(),
            "title": title,
            "notice": notice,
            "message": message,
            "url": url,
        }
        _mail(owner.email, "tracks/email/moderated", context)


def _after_commit_tell_owner(track: Track, action: str, message: str, site_url: str) -> None:
    owner, track_id, title = track.owner, track.id, track.title
    transaction.on_commit(
        lambda: owner_tell(
            owner=owner,
            track_id=track_id,
            title=title,
            action=action,
            message=message,
            site_url=site_url,
        )
    )


def track_hide(
    *,
    track: Track,
    by: AbstractBaseUser,
    reason: str,
    message: str = "",
    tell_reporters: bool = False,
    site_url: str = "",
) -> None:
    """Hide a track: it vanishes for everyone but its owner and moderators, its shares and
    links stop working, its open reports are closed, and its owner is told (the message)."""
    reason = _need_reason(reason)
    message = (message or "").strip()
    before = set(track_audience(track))
    with transaction.atomic():
        hidden = Track.objects.filter(pk=track.pk, hidden_at=None).update(
            hidden_at=timezone.now(), hidden_reason=reason, hidden_message=message
        )
        if not hidden:
            raise ModerationError("already hidden")  # by someone else, or a second report
        entry = audit_record(
            actor=by,
            action="track.hide",
            target_type="track",
            target_id=track.pk,
            target_label=track.title,
            reason=reason,
            subject=track.owner,
        )
        closed = _close_reports(track, by, Report.Resolution.HIDDEN, entry)
        _after_commit_tell_reporters(closed, tell_reporters)
        _after_commit_tell_owner(track, "hidden", message, site_url)
    transaction.on_commit(
        lambda: track_revoked_publish(
            track_id=track.pk,
            user_ids=before - {track.owner_id},
            message=f"“{track.title}” is no longer available.",
        )
    )


def track_unhide(
    *, track: Track, by: AbstractBaseUser, reason: str, message: str = "", site_url: str = ""
) -> None:
    reason = _need_reason(reason)
    message = (message or "").strip()
    with transaction.atomic():
        shown = Track.objects.filter(pk=track.pk).exclude(hidden_at=None)
        if not shown.update(hidden_at=None, hidden_reason="", hidden_message=""):
            raise ModerationError("not hidden")
        audit_record(
            actor=by,
            action="track.unhide",
            target_type="track",
            target_id=track.pk,
            target_label=track.title,
            reason=reason,
            subject=track.owner,
        )
        _after_commit_tell_owner(track, "unhidden", message, site_url)


def track_remove(
    *,
    track: Track,
    by: AbstractBaseUser,
    reason: str,
    message: str = "",
    tell_reporters: bool = False,
) -> TrackDeletion:
    """Delete a track (and its files) as a moderator, with the reason on record; its
    reports stay, closed, in the owner's history."""
    reason = _need_reason(reason)
    message = (message or "").strip()
    with transaction.atomic():
        entry = audit_record(
            actor=by,
            action="track.remove",
            target_type="track",
            target_id=track.pk,
            target_label=f"{track.title} (by {track.owner.get_username()})",
            reason=reason,
            subject=track.owner,
        )
        closed = _close_reports(track, by, Report.Resolution.REMOVED, entry)
        _after_commit_tell_reporters(closed, tell_reporters)
        _after_commit_tell_owner(track, "removed", message, "")
        return track_delete(track=track)  # it tells the listeners


def reports_dismiss(
    *, track: Track, by: AbstractBaseUser, reason: str, tell_reporters: bool = False
) -> int:
    """Close the track's open reports, leaving the track as it is. Returns how many."""
    reason = _need_reason(reason)
    with transaction.atomic():
        if not Report.objects.filter(track=track, resolved_at=None).exists():
            raise ModerationError("no open reports")
        entry = audit_record(
            actor=by,
            action="reports.dismiss",
            target_type="track",
            target_id=track.pk,
            target_label=track.title,
            reason=reason,
            subject=track.owner,
        )
        closed = _close_reports(track, by, Report.Resolution.DISMISSED, entry)
        _after_commit_tell_reporters(closed, tell_reporters)
    return len(closed)


def owner_suspend(
    *, track: Track, by: AbstractBaseUser, reason: str, tell_reporters: bool = False
) -> None:
    """Suspend the track's owner (accounts.services.user_suspend: the reason is what the
    suspended user is shown when they log in), closing the track's open reports."""
    with transaction.atomic():
        user_suspend(user=track.owner, by=by, reason=reason)
        entry = AuditEntry.objects.filter(action="user.suspend", target_id=str(track.owner_id))
        closed = _close_reports(track, by, Report.Resolution.SUSPENDED, entry.first())
        _after_commit_tell_reporters(closed, tell_reporters)
