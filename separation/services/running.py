"""Running a claimed job: copy the upload to local disk, separate it with the warm engine,
draw waveforms, store the files and record the outcome on the row."""

import logging
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Protocol

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

import engine as audio_engine
from catalog.stems import JAM_TRACK
from jobs.state import worker_identity
from separation.events import job_publish
from separation.logcontext import job_log_context
from separation.models import SeparationJob
from separation.services.scratch import process_scratch
from separation.services.state import (
    JobLost,
    job_claim,
    job_fail,
    job_finish,
    job_heartbeat,
    job_release,
    job_take_over,
)
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
Status = SeparationJob.Status
Phase = SeparationJob.Phase

GENERIC_FAILURE = "Something went wrong while separating this track. Please try again."
HEARTBEAT_EVERY_S = 5.0
PROGRESS_EVERY_S = 0.5
# Where each phase's progress runs, in percent of the job, from what each took for a
# 5-minute song on 2 cores after the engine's second pass (bench/profile_engine.py): the
# engine ~7 s (its own progress counts writing the stems out), the three waveforms' peaks
# ~1.4 s of CPU plus the jam track's tempo estimate, storing under 1 s on a local disk (more
# on a remote one). 100 is only ever written with "done".
PHASE_SPANS = {
    Phase.SEPARATING: (0, 70),
    Phase.WAVEFORMS: (70, 92),
    Phase.STORING: (92, 99),
}


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


def _reconnecting(write: Callable[[], object]) -> object:
    """Run one database write; if the connection broke under the worker (a database restart,
    a failover, a dropped connection), open a new one and try once more, so a run outlives a
    blip in the database. Inside a transaction there is nothing safe to retry: re-raise."""
    try:
        return write()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise
        logger.warning("The database connection broke; reconnecting", exc_info=True)
        connection.close()
        return write()


class JobInterrupted(Exception):
    """The worker is stopping: the job goes back to the queue."""


class _ProgressReporter:
    """Keeps the claim alive for the whole run and reports every phase of it. `phase(...)`
    gives each step's progress callback (the engine's, each waveform's, storing's): it writes
    the job's progress, phase and heartbeat to the row (throttled; a new phase at once),
    publishes it, and aborts the run when the worker stops or the job was taken away (a
    write that finds the claim gone raises JobLost: cancelled, recovered, deleted). `beat()`
    is called by steps that report no progress (copying the upload in), so no step outlives
    the heartbeat."""

    def __init__(self, *, job_id: int, worker_id: str, should_stop: Callable[[], bool]):
        self.job_id = job_id
        self.worker_id = worker_id
        self.should_stop = should_stop
        self.percent = 0
        self.current = Phase.SEPARATING  # what the claim wrote
        self.reported_at = 0.0  # progress: the first report is written at once
        self.beaten_at = time.monotonic()  # the claim itself stamped the heartbeat

    def phase(self, phase: str) -> Callable[[float], None]:
        """The progress callback of one phase: its fraction done, 0..1."""
        start, end = PHASE_SPANS[phase]
        return lambda fraction: self.report(phase, start + (end - start) * float(fraction))

    def report(self, phase: str, percent_done: float) -> None:
        if self.should_stop():
            raise JobInterrupted
        percent = max(self.percent, min(99, int(percent_done)))  # never goes back
        if phase != self.current or (
            percent != self.percent and time.monotonic() - self.reported_at >= PROGRESS_EVERY_S
        ):
            self.write(percent, phase)
            job_publish(job_id=self.job_id)
        else:
            self.beat()

    def write(self, percent: int, phase: str) -> None:
        _reconnecting(
            lambda: job_heartbeat(
                job_id=self.job_id, worker_id=self.worker_id, progress=percent, phase=phase
            )
        )
        self.percent, self.current = percent, phase
        self.reported_at = self.beaten_at = time.monotonic()

    def beat(self) -> None:
        """Write the heartbeat if it is due; JobLost when the claim is gone."""
        if time.monotonic() - self.beaten_at >= HEARTBEAT_EVERY_S:
            _reconnecting(
                lambda: job_heartbeat(
                    job_id=self.job_id, worker_id=self.worker_id, progress=self.percent
                )
            )
            self.beaten_at = time.monotonic()


def _copy_to_local(name: str, directory: Path, beat: Callable[[], None]) -> Path:
    """Copy a stored file to local disk: the engine needs a path, storage may be remote."""
    return files.copy_to_local(name, directory / f"input{PurePath(name).suffix.lower()}", beat)


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


def _record_done(*, job: SeparationJob, worker_id: str, outputs) -> bool:
    def record() -> bool:
        with transaction.atomic():
            finished = job_finish(job_id=job.id, worker_id=worker_id)
            if finished:
                track_record_outputs(track_id=job.track_id, job_id=job.id, outputs=outputs)
        return finished

    finished = _reconnecting(record)
    if not finished:
        track_discard_files([output.name for output in outputs])
        return False
    job_publish(job_id=job.id)
    return True


def job_run(
    *,
    job: SeparationJob,
    worker_id: str,
    engine: Engine,
    should_stop: Callable[[], bool] = lambda: False,
) -> str:
    """Separate a claimed job's track and record the outcome on the row.

    Never raises for a bad job: the reason goes on the row and the worker moves on.
    Returns the job's final status as seen by this worker. Every line logged meanwhile
    carries the job's and the track's id (`separation.logcontext`).
    """
    with job_log_context(job=job.id, track=job.track_id, worker=worker_id):
        return _job_run(job=job, worker_id=worker_id, engine=engine, should_stop=should_stop)


def _job_run(
    *, job: SeparationJob, worker_id: str, engine: Engine, should_stop: Callable[[], bool]
) -> str:
    track: Track = job.track
    original = track.asset(Asset.Kind.ORIGINAL)
    reporter = _ProgressReporter(job_id=job.id, worker_id=worker_id, should_stop=should_stop)
    try:
        # Files an earlier run stored but never recorded (it died, or lost its claim): this
        # run holds the claim now, so no other run can record them any more.
        track_sweep_unreferenced_files(track_id=track.id)
        if original is None:
            raise audio_engine.AudioError("the uploaded file is missing.")
        with tempfile.TemporaryDirectory(prefix="run-", dir=process_scratch()) as tmp:
            work_dir = Path(tmp)
            source = _copy_to_local(original.name, work_dir, reporter.beat)
            out_dir = work_dir / "out"
            out_dir.mkdir()
            result = engine.separate_file(
                source,
                out_dir,
                progress=reporter.phase(Phase.SEPARATING),
                name=track.original_filename or None,
                limits=audio_limits(),
                quality=job.quality,
            )
            batches = getattr(getattr(engine, "model", None), "sizes", None)
            if batches:  # a batching worker: how full its batches run, to tune JAM_ENGINE_BATCH
                logger.info(
                    "Job %s separated; network batches so far, {segments: count}: %s",
                    job.id,
                    dict(sorted(batches.items())),
                )
            waveforms, peaks = _draw_waveforms(
                {"": source, **result.stems},
                work_dir,
                reporter.phase(Phase.WAVEFORMS),
                original_name=track.original_filename or source.name,
                duration_s=track.duration_s,
            )
            outputs = track_store_outputs(
                track_id=track.id,
                stems=dict(result.stems),
                waveforms=waveforms,
                peaks=peaks,
                while_storing=reporter.phase(Phase.STORING),
            )
    except JobInterrupted:
        logger.info("Job %s interrupted by shutdown; back to the queue", job.id)
        job_release(job_id=job.id, worker_id=worker_id)
        return Status.QUEUED
    except JobLost:
        # What this run made is gone with it: the scratch folder with the `with`, files it
        # stored with `track_store_outputs`.
        if SeparationJob.objects.filter(id=job.id, status=Status.CANCELLED).exists():
            logger.info("Job %s was cancelled; stopped", job.id)
            return Status.CANCELLED
        logger.info("Job %s is no longer ours; dropping it", job.id)
        return "lost"
    except audio_engine.AudioError as exc:
        logger.info("Job %s failed on bad audio: %s", job.id, exc)
        job_fail(job_id=job.id, worker_id=worker_id, reason=f"Could not read the audio: {exc}")
        return Status.FAILED
    except SoftTimeLimitExceeded:
        minutes = settings.SEPARATION_SOFT_TIME_LIMIT_S / 60
        logger.warning("Job %s passed the soft time limit", job.id)
        job_fail(
            job_id=job.id,
            worker_id=worker_id,
            reason=f"Separating this track took longer than the limit ({minutes:g} minutes).",
        )
        return Status.FAILED
    except audio_engine.ModelError as exc:
        logger.error("Job %s failed: separation model unavailable: %s", job.id, exc)
        job_fail(job_id=job.id, worker_id=worker_id, reason="The separation model is unavailable.")
        return Status.FAILED
    except Exception:
        # The task edge: one bad job must never take the worker down with it.
        logger.exception("Job %s failed", job.id)
        _reconnecting(lambda: job_fail(job_id=job.id, worker_id=worker_id, reason=GENERIC_FAILURE))
        return Status.FAILED
    if _record_done(job=job, worker_id=worker_id, outputs=outputs):
        logger.info("Job %s done by %s", job.id, worker_id)
        return Status.DONE
    if SeparationJob.objects.filter(id=job.id, status=Status.CANCELLED).exists():
        logger.info("Job %s was cancelled as it finished; its files are deleted", job.id)
        return Status.CANCELLED
    return "lost"


def job_process(*, job_id: int, engine: Engine, worker_id: str | None = None) -> str | None:
    """Claim and run one job by id (the Celery task's body). Quiet if it vanished, is done
    or is in a live worker's hands. A job left `running` by a dead worker (the broker
    delivered its message again after that worker died) is taken over."""
    worker_id = worker_id or worker_identity()
    job = job_claim(job_id=job_id, worker_id=worker_id)
    if job is None:
        stale_before = timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S)
        job = job_take_over(
            job_id=job_id,
            worker_id=worker_id,
            stale_before=stale_before,
            max_attempts=settings.SEPARATION_MAX_ATTEMPTS,
        )
    if job is None:
        return None
    return job_run(job=job, worker_id=worker_id, engine=engine)
