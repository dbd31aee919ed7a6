"""Asking for an export: checked, cached, and queued for the workers on commit (the one
pipeline, `jobs.services`, sends it: Celery's `render_task` in the scale-out mode, the table
in the embedded mode)."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from catalog.formats import DEFAULT_FORMAT, EXPORT_FORMAT_LABELS, EXPORT_FORMATS, get_export_format
from catalog.stems import JAM_TRACK, STEM_NAMES, STEMS, get_stem
from jobs import services as jobs
from practice.cost import ExportCost, duration_words, export_cost
from practice.kind import RENDER
from practice.models import JAM_ONLY, MIX, Render, gains_key
from tracks.access import Access
from tracks.models import Asset, Track
from tracks.selectors import storage_use_for_user

logger = logging.getLogger(__name__)
Status = Render.Status
KEPT = (Status.QUEUED, Status.RUNNING, Status.DONE)  # what the stored-exports cap counts

# What the quota check suggests when a library is full: the format that takes least room.
SMALLEST_FORMAT = min(EXPORT_FORMATS, key=lambda fmt: fmt.bytes_per_second)


class ExportError(ValueError):
    """A request for an export we refuse; the message is shown as is."""


class ExportForbidden(ExportError):
    """The user may see the track but not hear what the export would hold (the vocals)."""


# --- Asking for an export ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSettings:
    """A request's settings, checked and rounded as the row keeps them."""

    source: str = MIX
    gains: str = JAM_ONLY  # a mix's per-stem gains in percent, as `Render.gains` ("" for a stem)
    tempo: int = 100  # percent
    semitones: int = 0
    format: str = DEFAULT_FORMAT


def _number(value, name: str, low: Decimal, high: Decimal, message: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ExportError(f"The {name} must be a number: {message}") from None
    if not number.is_finite() or not low <= number <= high:
        raise ExportError(f"The {name} is out of range: {message}")
    return number


GAIN = "gain_"  # a per-stem gain's field: "gain_vocals"


def _percent(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _mix_gains(balance, gains: Mapping[str, str]) -> str:
    """The mix's gains as `Render.gains` keeps them: from per-stem ``gains`` (0..1 each; a
    stem not named is silent), or else from the ``balance`` (the vocals — every stem but the
    jam track — at 0..1 over the full jam track)."""
    if gains and balance not in ("", None):
        raise ExportError("Send the balance or the stems' gains, not both.")
    if not gains:
        share = _number(balance or 0, "balance", Decimal(0), Decimal(1), "from 0 to 1.")
        level = _percent(share)
        return gains_key({stem.name: 100 if stem.name == JAM_TRACK else level for stem in STEMS})
    percent = {}
    for name, value in gains.items():
        if get_stem(name) is None:
            known = ", ".join(STEM_NAMES)
            raise ExportError(f"There is no stem called “{name[:40]}” to mix (stems: {known}).")
        level = _number(value or 0, f"gain of the {name}", Decimal(0), Decimal(1), "from 0 to 1.")
        percent[name] = _percent(level)
    key = gains_key(percent)
    if not key:
        raise ExportError("There is nothing to export: every stem's gain is 0.")
    return key


def export_settings_parse(
    *, source="", balance="", gains: Mapping[str, str] | None = None, tempo="", semitones="", fmt=""
) -> ExportSettings:
    """The settings the browser sends — the mix as balance 0..1 (the vocals over the full jam
    track: 0 is the jam track only, 1 the full original) or as per-stem ``gains`` ({stem:
    0..1}, those not named silent), tempo 0.5..1.5, semitones -6..+6 (whole), a format of
    `catalog.formats`, source "mix" or a stem's name — checked, with a clear message for
    each bad value. Empty: default (the jam track alone, as recorded, WAV)."""
    source = (source or MIX).strip()
    if source != MIX and get_stem(source) is None:
        raise ExportError(f"There is nothing called “{source[:40]}” to export.")
    fmt = (fmt or DEFAULT_FORMAT).strip().lower()
    if get_export_format(fmt) is None:
        raise ExportError(f"The format must be {EXPORT_FORMAT_LABELS}.")
    if source != MIX and gains:
        raise ExportError("A stem exports as it is: the stems' gains are for a mix.")
    mix = _mix_gains(balance, gains or {}) if source == MIX else ""
    speed = _number(tempo or 1, "tempo", Decimal("0.5"), Decimal("1.5"), "from 0.5 to 1.5.")
    key = _number(semitones or 0, "key", Decimal(-6), Decimal(6), "from -6 to +6 semitones.")
    if key != key.to_integral_value():
        raise ExportError("The key moves in whole semitones, from -6 to +6.")
    return ExportSettings(
        source=source,
        gains=mix,
        tempo=_percent(speed),
        semitones=int(key),
        format=fmt,
    )


def render_cost(track: Track, *, stems: int, tempo: int, semitones: int, fmt: str) -> ExportCost:
    """What an export of ``track`` costs (`practice.cost`): from its real rate and length."""
    return export_cost(
        duration_s=track.duration_s,
        sample_rate=track.sample_rate,
        channels=track.channels,
        stems=stems,
        tempo_percent=tempo,
        semitones=semitones,
        fmt=fmt,
    )


def _size_estimate(render: Render) -> int:
    parts = len(render.parts)
    return render_cost(
        render.track,
        stems=parts,
        tempo=render.tempo,
        semitones=render.semitones,
        fmt=render.format,
    ).size_bytes


def _on_the_way_bytes(*, user_id, besides: int) -> int:
    """What the exports this user pays for that are still on the way (queued or running)
    will store, estimated as for a new one: they hold room in their quota until made."""
    coming = (
        Render.objects.filter(charged_to_id=user_id)
        .active()
        .exclude(pk=besides)
        .select_related("track")
    )
    return sum(_size_estimate(render) for render in coming)


def _check_room(user, *, need: int, render: Render) -> None:
    """ExportError unless the quota of the user who asks (who pays for the export, whoever
    owns the track) has room for it besides what they store (and hold for stems to come)
    and their exports on the way. Called under the lock on the user's row, so two requests
    at once cannot both squeeze in. The owner's quota is not touched: a bandmate's exports
    never leave her without room for her own."""
    use = storage_use_for_user(user_id=user.pk)
    if not use.quota_bytes:
        return
    used = use.used_bytes + _on_the_way_bytes(user_id=user.pk, besides=render.pk)
    if used + need <= use.quota_bytes:
        return
    raise ExportError(
        f"Your library has no room for this export (about {filesizeformat(need)}): an export "
        f"is stored in the library of whoever asks for it. Delete other exports or tracks, or "
        f"choose {SMALLEST_FORMAT.label}."
    )


def _check_active_cap(user) -> None:
    limit = settings.JAM_USER_MAX_ACTIVE_RENDERS
    active = Render.objects.filter(requesters=user).active().count()
    if active >= limit:
        raise ExportError(
            f"You already have {active} export{'s' if active != 1 else ''} being made (the "
            f"limit is {limit}). Ask for another once one of them is ready."
        )


def _check_stored_cap(user) -> None:
    """ExportError when the user already keeps the most exports (made or on their way)."""
    limit = settings.JAM_USER_MAX_STORED_RENDERS
    kept = Render.objects.filter(requesters=user, status__in=KEPT).count()
    if kept >= limit:
        raise ExportError(
            f"You keep {kept} export{'s' if kept != 1 else ''} (the limit is {limit}). Delete "
            "some of your exports to ask for another."
        )


def _check_budget(cost: ExportCost) -> None:
    """ExportError when making the export would take longer than a render may."""
    budget = settings.JAM_RENDER_MAX_SECONDS
    if cost.work_s > budget:
        raise ExportError(
            f"That export would take about {duration_words(cost.work_s)} to make; an export may "
            f"take at most {duration_words(budget)}. Choose a faster tempo or fewer stems."
        )


def export_request(
    *, track: Track, access: Access, user: AbstractBaseUser, wanted: ExportSettings
) -> Render:
    """The render of ``track`` at ``wanted``: the same row (and file) as anyone's earlier
    request with the same settings, queued for a worker if it is not made yet (or failed
    before). ExportForbidden when ``access`` may not export (a band's viewer) or the export
    would hold a part it may not hear; ExportError for a track without stems, a song too
    long, a full library, or too many exports of this user on the way."""
    probe = Render(source=wanted.source, gains=wanted.gains)
    if not access.can_export:
        raise ExportForbidden("You may play this track, not export it.")
    if not access.can_export_all(probe.parts):
        if wanted.source == MIX:
            raise ExportForbidden(
                "The owner shared the jam track without the vocals: export it with the "
                "balance at 0 (instrumental only)."
            )
        raise ExportForbidden("The owner has not shared that part with you.")
    if any(track.asset(Asset.Kind.STEM, stem) is None for stem in probe.parts):
        raise ExportError("This track has no stems yet: export it once it is separated.")
    length = track.duration_s * 100 / wanted.tempo
    cost = render_cost(
        track,
        stems=len(probe.parts),
        tempo=wanted.tempo,
        semitones=wanted.semitones,
        fmt=wanted.format,
    )
    if length > settings.JAM_RENDER_MAX_DURATION_S:
        limit = settings.JAM_RENDER_MAX_DURATION_S / 60
        raise ExportError(
            f"That export would last {length / 60:.1f} minutes; exports may last at most "
            f"{limit:g} minutes. Choose a faster tempo."
        )
    _check_budget(cost)
    with transaction.atomic():
        # One request per user, and per track owner, at a time: two at once cannot both
        # pass the caps, nor both squeeze into the user's quota. Locked in id order, so
        # two users asking for each other's tracks cannot deadlock.
        people = {user.pk, track.owner_id}
        list(get_user_model().objects.select_for_update().filter(pk__in=people).order_by("pk"))
        same = {
            "track": track,
            "source": wanted.source,
            "gains": wanted.gains,
            "tempo": wanted.tempo,
            "semitones": wanted.semitones,
            "format": wanted.format,
        }
        # Locked as `render_delete` locks it: a deletion either comes first (and a new row
        # is made) or waits, then sees this user among those who asked for it.
        render, created = Render.objects.select_for_update().filter(**same).first(), False
        if render is None:
            render, created = Render.objects.get_or_create(**same)
        asked = render.requesters.filter(pk=user.pk).exists()
        if render.status == Status.DONE:
            if not asked:
                _check_stored_cap(user)
                render.requesters.add(user)  # the cache: the same file, made once
            return render
        if asked and render.is_active:
            return render  # asked twice: still on its way
        if not asked:
            _check_stored_cap(user)
        _check_active_cap(user)
        render.requesters.add(user)
        if render.is_active and not created:
            return render  # someone else's request is on its way: it is theirs and yours now
        _check_room(user, need=cost.size_bytes, render=render)
        # Whoever has it made pays for it: its file counts in their storage.
        Render.objects.filter(pk=render.pk).update(charged_to=user)
        if render.status == Status.FAILED:
            if not jobs.job_requeue(RENDER, job_id=render.id, statuses=(Status.FAILED,)):
                return Render.objects.get(pk=render.pk)
        else:
            jobs.job_dispatch_on_commit(RENDER, job_id=render.id)
        render.refresh_from_db()
    logger.info("Export %s of track %s asked for by user %s", render.id, track.id, user.pk)
    return render
