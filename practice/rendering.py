"""Making renders (exports): the work of the render kind (`practice.kind`), run by the one
runner (`jobs.runner`) — copy the stems in, mix, stretch, encode, store; the runner records
the file with "done". Only workers import it (it loads pedalboard and soxr).

The embedded worker (`manage.py separation_worker`) takes a queued render before the next
song; in the scale-out mode the Celery task `practice.tasks.render_task` (queue
RENDER_QUEUE) runs it.
"""

import threading
import time
import uuid
from pathlib import Path, PurePath

from jobs.runner import JobFailed, JobInterrupted, Made, Run
from practice import audio
from practice.models import Render
from tracks import files
from tracks.models import Asset
from tracks.services import track_discard_files, track_record_rendition, track_store_rendition

Phase = Render.Phase


def _gains(render: Render) -> list[tuple[str, float]]:
    """(storage name, gain) of each stem the render mixes: its stored per-stem gains (a stem
    export: that stem at 1)."""
    gains = []
    for stem, percent in render.stem_gains.items():
        asset = render.track.asset(Asset.Kind.STEM, stem)
        if asset is None:
            raise audio.RenderError("the track's stems are missing.")
        gains.append((asset.name, percent / 100))
    return gains


# Rubber Band's offline stretch reports nothing until it is done. While it runs, progress
# moves on at the speed bench/render.py measured on a busy 2-core machine (a song stretched
# at ~3x real time), and stops short of the next phase if the machine is slower.
STRETCH_X_REAL_TIME = 3.0
STRETCH_START, STRETCH_END = audio.MIXED, audio.STRETCHED


def _render_in_thread(
    spec: audio.RenderSpec, out: Path, run: Run, *, seconds: float
) -> audio.Rendered:
    """Rubber Band's offline stretch is one long call: it runs in a thread while this one
    keeps the row's heartbeat and progress. The audio thread touches no database."""
    fraction = [0.0]
    stop = threading.Event()
    outcome: dict = {}
    expected_s = max(seconds / STRETCH_X_REAL_TIME, 0.1)

    def step() -> None:
        if stop.is_set():
            raise JobInterrupted

    def work() -> None:
        try:
            outcome["rendered"] = audio.render(
                spec, out, progress=lambda value: fraction.__setitem__(0, value), step=step
            )
        except BaseException as exc:  # handed to the worker's thread below
            outcome["error"] = exc

    thread = threading.Thread(target=work, name="render-audio", daemon=True)
    thread.start()
    progress = run.phase(Phase.RENDERING)
    stretch_began = None
    try:
        while thread.is_alive():
            thread.join(timeout=0.25)
            done = fraction[0]
            if done == STRETCH_START:
                stretch_began = stretch_began or time.monotonic()
                guess = min(0.95, (time.monotonic() - stretch_began) / expected_s)
                done = STRETCH_START + guess * (STRETCH_END - STRETCH_START)
            progress(done)
    finally:
        stop.set()
        thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["rendered"]


def render_work(render: Render, run: Run) -> Made:
    """Make a claimed render in ``run.scratch``: copy its stems in, mix, stretch, encode,
    store; `Made.record` makes the file one of the track's in the finishing transaction."""
    copying = run.phase(Phase.COPYING)
    try:
        wanted = _gains(render)
    except audio.RenderError as exc:
        raise JobFailed(f"Could not render: {exc}") from exc
    gains = []
    for index, (name, gain) in enumerate(wanted):
        copying(index / len(wanted))
        local = run.scratch / f"{uuid.uuid4().hex[:8]}{PurePath(name).suffix.lower()}"
        gains.append((files.copy_to_local(name, local, run.beat), gain))
    spec = audio.RenderSpec(
        gains=gains, tempo=render.tempo / 100, semitones=render.semitones, fmt=render.format
    )
    try:
        rendered = _render_in_thread(
            spec, run.scratch / "export", run, seconds=render.track.duration_s
        )
    except audio.RenderError as exc:
        raise JobFailed(f"Could not render: {exc}") from exc
    storing = run.phase(Phase.STORING)
    storing(0)
    stored = track_store_rendition(
        track_id=render.track_id,
        settings_slug=render.slug,
        fmt=render.format,
        path=rendered.path,
        while_storing=run.beat,
    )
    parameters = {
        "source": render.source,
        "gains": render.stem_gains,
        "tempo": render.tempo,
        "semitones": render.semitones,
        "format": render.format,
    }

    def record() -> dict:
        asset = track_record_rendition(
            track_id=render.track_id, output=stored, parameters=parameters
        )
        return {"asset": asset}

    return Made(record=record, discard=lambda: track_discard_files([stored.name]))
