"""Making renders (exports): each state change a conditional UPDATE on the row, as for
separations, and running a claimed render in a worker.

The embedded worker (`manage.py separation_worker`, in separation/) claims queued renders
before songs — a render takes a fraction of a separation's time — and calls `render_run`;
in the scale-out mode the Celery task `practice.tasks.render_task` (queue `renders`) calls
`render_process`.
"""

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePath

from django.db import transaction

from catalog.stems import JAM_TRACK, STEMS
from jobs import state as job_state
from jobs.state import worker_identity
from practice import audio
from practice.events import render_publish
from practice.models import MIX, Render
from tracks import files
from tracks.access import Access
from tracks.models import Asset
from tracks.services import (
    track_delete_rendition,
    track_discard_files,
    track_record_rendition,
    track_store_rendition,
)

logger = logging.getLogger(__name__)
Status = Render.Status

GENERIC_FAILURE = "Something went wrong while rendering this export. Please try again."
HEARTBEAT_EVERY_S = 2.0


class RenderLost(Exception):
    """The render is no longer ours (deleted, or taken back from this worker)."""


class RenderInterrupted(Exception):
    """The worker is stopping: the render goes back to the queue."""


# --- State changes: each a conditional UPDATE (`jobs.state`), then an event ----------------


def render_claim(*, render_id: int, worker_id: str) -> Render | None:
    if not job_state.claim(Render, pk=render_id, worker_id=worker_id):
        return None
    render_publish(render_id=render_id)
    return Render.objects.select_related("track").get(id=render_id)


def render_claim_next(*, worker_id: str) -> Render | None:
    """Claim the render that has waited longest, skipping any another worker just took."""
    return job_state.claim_next(
        Render, lambda render_id: render_claim(render_id=render_id, worker_id=worker_id)
    )


def render_heartbeat(*, render_id: int, worker_id: str, progress: int) -> None:
    if not job_state.heartbeat(Render, pk=render_id, worker_id=worker_id, progress=progress):
        raise RenderLost


def render_fail(*, render_id: int, worker_id: str, reason: str) -> bool:
    failed = job_state.fail(Render, pk=render_id, worker_id=worker_id, reason=reason)
    if failed:
        render_publish(render_id=render_id)
    return failed


def render_release(*, render_id: int, worker_id: str) -> bool:
    """Give a running render back to the queue (the worker is stopping)."""
    released = job_state.release(Render, pk=render_id, worker_id=worker_id)
    if released:
        render_publish(render_id=render_id)
    return released


# --- Deleting an export -------------------------------------------------------------------


def render_delete(*, render_id: int, user, access: Access) -> bool:
    """Take ``user``'s export away. The track's owner deletes it for everyone; anyone else
    who asked for it only withdraws from it, and it goes when no one who asked is left.
    When it goes, its stored file goes too (freeing the owner's quota). A render a worker is
    making goes the same way: the worker's claim no longer matches, so its next heartbeat
    or its finishing transaction finds the render lost, and it drops what it stored.
    Returns True when the render (and its file) went."""
    with transaction.atomic():
        render = Render.objects.select_for_update().filter(id=render_id).first()
        if render is None:
            return False
        if not access.can_manage:
            render.requesters.remove(user)
            if render.requesters.exists():
                return False
        asset_id = render.asset_id
        render.delete()
        if asset_id is not None:
            track_delete_rendition(asset_id=asset_id)
    logger.info("Render %s deleted by user %s", render_id, user.pk)
    return True


# --- Running a claimed render -----------------------------------------------------------------


class _Beat:
    """The worker's side of a run: progress and heartbeat on the row, written from the
    worker's own thread (the audio runs in another and only leaves a fraction here)."""

    def __init__(self, *, render_id: int, worker_id: str, should_stop: Callable[[], bool]):
        self.render_id, self.worker_id, self.should_stop = render_id, worker_id, should_stop
        self.percent = 0
        self.beaten_at = time.monotonic()

    def report(self, percent: int) -> None:
        percent = max(0, min(99, percent))
        changed = percent != self.percent
        if changed or time.monotonic() - self.beaten_at >= HEARTBEAT_EVERY_S:
            render_heartbeat(render_id=self.render_id, worker_id=self.worker_id, progress=percent)
            self.percent, self.beaten_at = percent, time.monotonic()
            if changed:
                render_publish(render_id=self.render_id)

    def beat(self) -> None:
        if self.should_stop():
            raise RenderInterrupted
        self.report(self.percent)


def _copy_to_local(name: str, directory: Path, beat: Callable[[], None]) -> Path:
    local = directory / f"{uuid.uuid4().hex[:8]}{PurePath(name).suffix.lower()}"
    return files.copy_to_local(name, local, beat)


def _gains(render: Render) -> list[tuple[str, float]]:
    """(storage name, gain) of each stem the render mixes."""
    track = render.track
    if render.source != MIX:
        wanted = [(render.source, 1.0)]
    else:
        vocals = render.balance / 100
        wanted = [(stem.name, 1.0 if stem.name == JAM_TRACK else vocals) for stem in STEMS]
    gains = []
    for stem, gain in wanted:
        asset = track.asset(Asset.Kind.STEM, stem)
        if asset is None:
            raise audio.RenderError("the track's stems are missing.")
        if gain:
            gains.append((asset.name, gain))
    return gains


# Rubber Band's offline stretch reports nothing until it is done. While it runs, progress
# moves on at the speed bench/render.py measured on a busy 2-core machine (a song stretched
# at ~3x real time), and stops short of the next phase if the machine is slower.
STRETCH_X_REAL_TIME = 3.0
STRETCH_START, STRETCH_END = audio.MIXED, audio.STRETCHED


def _render_in_thread(
    spec: audio.RenderSpec, out: Path, beat: _Beat, *, seconds: float
) -> audio.Rendered:
    """Rubber Band's offline stretch is one long call: it runs in a thread while this one
    keeps the row's heartbeat and progress. The audio thread touches no database."""
    fraction = [0.0]
    stop = threading.Event()
    outcome: dict = {}
    expected_s = max(seconds / STRETCH_X_REAL_TIME, 0.1)

    def step() -> None:
        if stop.is_set():
            raise RenderInterrupted

    def work() -> None:
        try:
            outcome["rendered"] = audio.render(
                spec, out, progress=lambda value: fraction.__setitem__(0, value), step=step
            )
        except BaseException as exc:  # handed to the worker's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="render-audio", daemon=True)
    thread.start()
    stretch_began = None
    try:
        while thread.is_alive():
            thread.join(timeout=0.25)
            done = fraction[0]
            if done == STRETCH_START:
                stretch_began = stretch_began or time.monotonic()
                guess = min(0.95, (time.monotonic() - stretch_began) / expected_s)
                done = STRETCH_START + guess * (STRETCH_END - STRETCH_START)
            beat.report(10 + int(80 * done))
            if beat.should_stop():
                raise RenderInterrupted
    finally:
        stop.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["rendered"]


def render_run(
    *, render: Render, worker_id: str, should_stop: Callable[[], bool] = lambda: False
) -> str:
    """Make a claimed render: copy its stems in, mix, stretch, encode, store, record. Never
    raises for a bad render: the reason goes on the row. Returns the final status."""
    beat = _Beat(render_id=render.id, worker_id=worker_id, should_stop=should_stop)
    stored = None
    try:
        with tempfile.TemporaryDirectory(prefix="render-") as tmp:
            work_dir = Path(tmp)
            gains = [
                (_copy_to_local(name, work_dir, beat.beat), gain) for name, gain in _gains(render)
            ]
            beat.report(10)
            spec = audio.RenderSpec(
                gains=gains,
                tempo=render.tempo / 100,
                semitones=render.semitones,
                fmt=render.format,
            )
            rendered = _render_in_thread(
                spec, work_dir / "export", beat, seconds=render.track.duration_s
            )
            beat.report(90)
            stored = track_store_rendition(
                track_id=render.track_id,
                settings_slug=render.slug,
                fmt=render.format,
                path=rendered.path,
                while_storing=beat.beat,
            )
        parameters = {
            "source": render.source,
            "balance": render.balance,
            "tempo": render.tempo,
            "semitones": render.semitones,
            "format": render.format,
        }
        with transaction.atomic():
            mine = Render.objects.claimed(pk=render.id, worker_id=worker_id)
            if not mine.select_for_update().exists():
                raise RenderLost
            asset = track_record_rendition(
                track_id=render.track_id, output=stored, parameters=parameters
            )
            job_state.finish(Render, pk=render.id, worker_id=worker_id, asset=asset)
    except RenderInterrupted:
        _discard(stored)
        render_release(render_id=render.id, worker_id=worker_id)
        return Status.QUEUED
    except RenderLost:
        _discard(stored)
        logger.info("Render %s is no longer ours; dropping it", render.id)
        return "lost"
    except audio.RenderError as exc:
        _discard(stored)
        render_fail(render_id=render.id, worker_id=worker_id, reason=f"Could not render: {exc}")
        return Status.FAILED
    except Exception:
        _discard(stored)  # the task edge: one bad render must never take the worker down
        logger.exception("Render %s failed", render.id)
        render_fail(render_id=render.id, worker_id=worker_id, reason=GENERIC_FAILURE)
        return Status.FAILED
    render_publish(render_id=render.id)
    logger.info("Render %s done", render.id)
    return Status.DONE


def _discard(stored) -> None:
    if stored is not None:
        track_discard_files([stored.name])


def render_process(*, render_id: int, worker_id: str | None = None) -> str | None:
    """Claim and make one render by id (the Celery task's body). Quiet if it vanished, is
    done, or is in another worker's hands."""
    worker_id = worker_id or worker_identity()
    render = render_claim(render_id=render_id, worker_id=worker_id)
    if render is None:
        return None
    return render_run(render=render, worker_id=worker_id)
