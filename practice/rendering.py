"""Making renders (exports): the work of the render kind (`practice.kind`), run by the one
runner (`jobs.runner`) — copy the stems in, mix, stretch, encode (streamed in pieces,
`practice.audio`), store; the runner records the file with "done". Only workers import it
(it loads pedalboard, pylibrb and soxr).

Between pieces a render writes its progress and heartbeat, checks its budget of time and
memory (JAM_RENDER_MAX_SECONDS, JAM_RENDER_MAX_MEMORY_MB: failed with a message saying which)
and, in the embedded worker, gives way to a waiting song (`Run.yield_if_asked`). In the
scale-out mode the Celery task `practice.tasks.render_task` (queue RENDER_QUEUE) runs it.
"""

import os
import time
import uuid
from pathlib import PurePath

from django.conf import settings

from jobs.runner import JobFailed, Made, Run
from practice import audio
from practice.cost import duration_words
from practice.models import Render
from tracks import files
from tracks.models import Asset
from tracks.services import track_discard_files, track_record_rendition, track_store_rendition

Phase = Render.Phase
MB = 1024 * 1024


def resident_bytes() -> int | None:
    """This process's resident memory now (Linux's /proc), or None where it cannot tell."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class Budget:
    """A render's budget: the worker time and the memory (growth of the worker's resident
    memory since the render began) it may take. ``check()`` between pieces raises JobFailed
    with the reason once either is spent. The clock is injected (a test moves it on)."""

    def __init__(self, *, seconds: float, memory_bytes: int, clock=time.monotonic) -> None:
        self.seconds, self.memory_bytes, self.clock = seconds, memory_bytes, clock
        self.started = clock()
        self.resident_at_start = resident_bytes()

    def check(self) -> None:
        if self.clock() - self.started > self.seconds:
            raise JobFailed(
                f"This export took longer than an export may ({duration_words(self.seconds)}) "
                "and was stopped. Choose a faster tempo or fewer stems."
            )
        now = resident_bytes()
        start = self.resident_at_start
        if now is not None and start is not None and now - start > self.memory_bytes:
            raise JobFailed(
                f"This export needed more memory than an export may "
                f"({self.memory_bytes // MB} MB) and was stopped."
            )


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


def render_work(render: Render, run: Run) -> Made:
    """Make a claimed render in ``run.scratch``: copy its stems in, mix, stretch, encode,
    store; `Made.record` makes the file one of the track's in the finishing transaction."""
    copying = run.phase(Phase.COPYING)
    try:
        wanted = _gains(render)
    except audio.RenderError as exc:
        raise JobFailed(f"Could not render: {exc}") from exc
    gains = []
    budget = Budget(
        seconds=settings.JAM_RENDER_MAX_SECONDS,
        memory_bytes=settings.JAM_RENDER_MAX_MEMORY_MB * MB,
    )

    def between_pieces() -> None:
        run.beat()
        budget.check()
        run.yield_if_asked()

    for index, (name, gain) in enumerate(wanted):
        copying(index / len(wanted))
        between_pieces()
        local = run.scratch / f"{uuid.uuid4().hex[:8]}{PurePath(name).suffix.lower()}"
        gains.append((files.copy_to_local(name, local, run.beat), gain))
    spec = audio.RenderSpec(
        gains=gains, tempo=render.tempo / 100, semitones=render.semitones, fmt=render.format
    )
    try:
        rendered = audio.render(
            spec,
            run.scratch / "export",
            progress=run.phase(Phase.RENDERING),
            step=between_pieces,
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
        payer = Render.objects.filter(pk=render.pk).values_list("charged_to_id", flat=True)
        asset = track_record_rendition(
            track_id=render.track_id,
            output=stored,
            parameters=parameters,
            charged_to_id=payer.first(),
        )
        return {"asset": asset}

    return Made(record=record, discard=lambda: track_discard_files([stored.name]))
