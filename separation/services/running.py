"""Separating a claimed job's track: the work of the separation kind (`separation.kind`),
run by the one runner (`jobs.runner`): copy the upload to local disk, separate it with the
warm engine, draw waveforms, store the files; the runner records them with "done"."""

import logging
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

import engine as audio_engine
from catalog.stems import JAM_TRACK
from jobs.runner import JobFailed, Made, Run
from separation.models import SeparationJob
from separation.waveforms import WIDTH, peaks_json, waveform_png
from tracks import files
from tracks.models import ORIGINAL_PART, Asset, Track
from tracks.services import (
    audio_limits,
    track_discard_files,
    track_record_outputs,
    track_store_outputs,
    track_sweep_unreferenced_files,
)

logger = logging.getLogger(__name__)
Phase = SeparationJob.Phase


class Engine(Protocol):
    """What a job needs of the separation engine (`engine.Engine`)."""

    def separate_file(
        self,
        source: Path,
        out_dir: Path,
        *,
        progress: Callable[[float], None] | None = None,
        max_duration_s: float | None = None,
        name: str | None = None,
        limits: audio_engine.Limits | None = None,
        quality: str = "standard",
    ) -> audio_engine.SeparationResult: ...


def platform_engine() -> audio_engine.Engine:
    """The process's warm engine, configured from settings. SEPARATION_ENGINE_FACTORY (tests
    only) names a callable that returns another engine, so a real worker process can run
    without the model."""
    if settings.SEPARATION_ENGINE_FACTORY:
        return import_string(settings.SEPARATION_ENGINE_FACTORY)()
    return audio_engine.get_engine(
        model_root=settings.JAMWITHME_MODEL_DIR,
        threads=settings.JAMWITHME_MODEL_THREADS,
        device=settings.JAM_ENGINE_DEVICE,
        batch=settings.JAM_ENGINE_BATCH,
    )


def _draw_waveforms(
    parts: dict[str, Path],
    work_dir: Path,
    progress: Callable[[float], None],
    *,
    original_name: str,
    duration_s: float,
) -> tuple[dict[str, Path], dict[str, Path]]:
    """A waveform picture for each part ("" for the original, else a stem name), and its
    peaks as JSON for the player; the jam track's carries the tempo for the count-in."""
    pictures, data = {}, {}
    for index, (part, path) in enumerate(parts.items()):
        progress(index / len(parts))
        # The original decodes under the upload's limits, as the separation did (an MP3
        # whose length ffmpeg only estimates is bounded by them, not by the estimate).
        peaks = audio_engine.waveform_peaks(
            path,
            width=WIDTH,
            name=original_name if not part else None,
            limits=audio_limits(),
            progress=lambda done, index=index: progress((index + done) / len(parts)),
        )
        out_path = work_dir / f"waveform-{part or ORIGINAL_PART}.png"
        pictures[part] = waveform_png(peaks=peaks, out_path=out_path, stem=part)
        tempo = None
        if part == JAM_TRACK:
            progress((index + 1) / len(parts))  # a heartbeat before the tempo's estimate
            tempo = audio_engine.estimate_tempo(path)
        data[part] = peaks_json(
            peaks=peaks,
            out_path=work_dir / f"peaks-{part or ORIGINAL_PART}.json",
            duration_s=duration_s,
            tempo_bpm=tempo,
        )
    return pictures, data


def separation_work(job: SeparationJob, run: Run, *, engine: Engine | None = None) -> Made:
    """Separate the job's track in ``run.scratch`` and store its stems, waveforms and peaks
    under new names; `Made.record` makes them the track's in the finishing transaction."""
    track: Track = job.track
    original = track.asset(Asset.Kind.ORIGINAL)
    # Files an earlier run stored but never recorded (it died, or lost its claim): this run
    # holds the claim now, so no other run can record them any more.
    track_sweep_unreferenced_files(track_id=track.id)
    try:
        engine = engine or platform_engine()
        if original is None:
            raise audio_engine.AudioError("the uploaded file is missing.")
        work_dir = run.scratch
        local = work_dir / f"input{PurePath(original.name).suffix.lower()}"
        source = files.copy_to_local(original.name, local, run.beat)
        out_dir = work_dir / "out"
        out_dir.mkdir()
        result = engine.separate_file(
            source,
            out_dir,
            progress=run.phase(Phase.SEPARATING),
            name=track.original_filename or None,
            limits=audio_limits(),
            quality=job.quality,
        )
    except audio_engine.AudioError as exc:
        raise JobFailed(f"Could not read the audio: {exc}") from exc
    except audio_engine.ModelError as exc:
        logger.error("Job %s failed: separation model unavailable: %s", job.id, exc)
        raise JobFailed("The separation model is unavailable.") from exc
    batches = getattr(getattr(engine, "model", None), "sizes", None)
    if batches:  # a batching worker: how full its batches run, to tune JAM_ENGINE_BATCH
        logger.info(
            "Job %s separated; network batches so far, {segments: count}: %s",
            job.id,
            dict(sorted(batches.items())),
        )
    try:
        waveforms, peaks = _draw_waveforms(
            {"": source, **result.stems},
            work_dir,
            run.phase(Phase.WAVEFORMS),
            original_name=track.original_filename or source.name,
            duration_s=track.duration_s,
        )
    except audio_engine.AudioError as exc:
        raise JobFailed(f"Could not read the audio: {exc}") from exc
    outputs = track_store_outputs(
        track_id=track.id,
        stems=dict(result.stems),
        waveforms=waveforms,
        peaks=peaks,
        while_storing=run.phase(Phase.STORING),
    )

    made_by = audio_engine.model_identity()

    def record() -> dict:
        # The old stems (a re-separation's) give way to these in this transaction; their
        # files go once it commits.
        track_record_outputs(track_id=job.track_id, job_id=job.id, outputs=outputs)
        return {
            "model_name": made_by["model"],
            "weights_sha256": made_by["weights_sha256"],
            "engine_version": made_by["engine"],
            "background": False,
        }

    return Made(record=record, discard=lambda: track_discard_files([o.name for o in outputs]))
