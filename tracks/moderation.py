"""What moderators do to tracks, and what users report to them. Every moderator action is
recorded in the audit log in the same transaction as the action itself; the people who lose
access are told at once over the socket."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from tracks.access import track_access, track_audience
from tracks.events import track_revoked_publish
from tracks.models import Report, Track
from tracks.services import TrackDeletion, track_delete


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
    """A report from someone who can see the track (not its owner); one open report per
    person per track — reporting again updates it."""
    if not track_access(reporter, track).can_report:
        raise ModerationError("You cannot report this track.")
    if reason not in Report.Reason.values:
        raise ModerationError("Choose a reason.")
    report, _ = Report.objects.update_or_create(
        track=track,
        reporter=reporter,
        resolved_at=None,
        defaults={"reason": reason, "details": (details or "").strip()[:2000]},
    )
    return report


def _resolve_reports(track: Track, by, resolution: str) -> None:
    Report.objects.filter(track=track, resolved_at=None).update(
        resolved_at=timezone.now(), resolved_by=by, resolution=resolution
    )


def track_hide(*, track: Track, by: AbstractBaseUser, reason: str) -> None:
    """Hide a track: it vanishes for everyone but its owner and moderators, its shares and
    links stop working, and its open reports are resolved."""
    reason = _need_reason(reason)
    before = set(track_audience(track))
    with transaction.atomic():
        hidden = Track.objects.filter(pk=track.pk, hidden_at=None).update(
            hidden_at=timezone.now(), hidden_reason=reason
        )
        if not hidden:
            raise ModerationError("already hidden")  # by someone else, or a second report
        _resolve_reports(track, by, Report.Resolution.HIDDEN)
        audit_record(
            actor=by,
            action="track.hide",
            target_type="track",
            target_id=track.pk,
            target_label=track.title,
            reason=reason,
        )
    transaction.on_commit(
        lambda: track_revoked_publish(
            track_id=track.pk,
            user_ids=before - {track.owner_id},
            message=f"“{track.title}” is no longer available.",
        )
    )


def track_unhide(*, track: Track, by: AbstractBaseUser, reason: str) -> None:
    reason = _need_reason(reason)
    with transaction.atomic():
        shown = Track.objects.filter(pk=track.pk).exclude(hidden_at=None)
        if not shown.update(hidden_at=None, hidden_reason=""):
            raise ModerationError("not hidden")
        audit_record(
            actor=by,
            action="track.unhide",
            target_type="track",
            target_id=track.pk,
            target_label=track.title,
            reason=reason,
        )


def track_remove(*, track: Track, by: AbstractBaseUser, reason: str) -> TrackDeletion:
    """Delete a track (and its files) as a moderator, with the reason on record."""
    reason = _need_reason(reason)
    with transaction.atomic():
        audit_record(
            actor=by,
            action="track.remove",
            target_type="track",
            target_id=track.pk,
            target_label=f"{track.title} (by {track.owner.get_username()})",
            reason=reason,
        )
        return track_delete(track=track)  # it tells the listeners


def report_dismiss(*, report: Report, by: AbstractBaseUser, reason: str) -> None:
    reason = _need_reason(reason)
    with transaction.atomic():
        dismissed = Report.objects.filter(pk=report.pk, resolved_at=None).update(
            resolved_at=timezone.now(), resolved_by=by, resolution=Report.Resolution.DISMISSED
        )
        if not dismissed:
            raise ModerationError("already resolved")
        audit_record(
            actor=by,
            action="report.dismiss",
            target_type="report",
            target_id=report.pk,
            target_label=str(report),
            reason=reason,
        )
