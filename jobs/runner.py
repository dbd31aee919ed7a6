"""The one runner: claim a job of any kind, run its work with a `Run` (progress, phases,
heartbeat, cancellation, scratch space, log context), and record the outcome on the row.

A kind's work (`JobKind.work`) is ``work(job, run, **options) -> Made``: it does the job in
``run.scratch``, reports through ``run.phase(...)`` / ``run.beat()``, raises `JobFailed`
with the reason people read for a bad job, and returns what it made: `Made.record` is called
in the finishing transaction, under the row's lock, only while the claim is still ours;
`Made.discard` deletes what it stored when the claim was lost meanwhile.
"""

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from jobs import kinds, services, state
from jobs.kinds import JobKind
from jobs.logcontext import job_log_context
from jobs.models import Job
from jobs.scratch import process_scratch

logger = logging.getLogger(__name__)

# A new percentage is written (and published) at most this often; a new phase at once.
PROGRESS_EVERY_S = 0.5


class Outcome(StrEnum):
    """How a run ended, as this worker saw it."""

    DONE = "done"
    FAILED = "failed"
    QUEUED = "queued"  # the worker was stopping: the job went back to the queue
    YIELDED = "yielded"  # it gave way to another kind's waiting job: back to the queue
    CANCELLED = "cancelled"
    LOST = "lost"  # deleted, or taken back from this worker: nothing of it is ours


class JobFailed(Exception):
    """A bad job: the message is the reason people read, stored on the row."""


class JobLost(Exception):
    """The claim is gone: the job was cancelled, recovered by another worker or deleted."""


class JobInterrupted(Exception):
    """The worker is stopping: the job goes back to the queue."""


class JobYielded(JobInterrupted):
    """The job gave way to another kind's waiting job (`Run.yield_if_asked`): back to the
    queue, to start again from the beginning once that job has run."""


@dataclass
class Made:
    """What a run made. ``record()`` returns the row's extra fields to set with "done"."""

    record: Callable[[], dict] = dict
    discard: Callable[[], None] = lambda: None


def reconnecting(write: Callable[[], object]) -> object:
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


@dataclass
class Run:
    """A claimed job's run, as its work sees it: keeps the claim alive and reports progress.

    ``phase(name)`` gives a step's progress callback (its fraction done, 0..1, mapped onto
    the phase's span): a new phase is written at once, a new percentage at most every
    PROGRESS_EVERY_S, each published. ``beat()`` is for steps that report no progress
    (copying files in): it writes the heartbeat when due. Both raise JobInterrupted when the
    worker is stopping and JobLost when a write finds the claim gone."""

    kind: JobKind
    job: Job
    worker_id: str
    should_stop: Callable[[], bool]
    scratch: Path
    clock: Callable[[], float] = time.monotonic
    # Whether another kind's job waits for this worker (the embedded worker's, for a kind
    # that yields); in Celery each kind has its own queue, and nothing waits behind a job.
    should_yield: Callable[[], bool] = lambda: False
    # What it last wrote: the percentage, the phase, when (the first report is written at
    # once), and when the heartbeat was last stamped.
    percent: int = field(default=0, init=False)
    current: str = field(init=False)
    reported_at: float | None = field(default=None, init=False)
    beaten_at: float = field(init=False)

    def __post_init__(self) -> None:
        self.current = self.kind.first_phase  # what the claim wrote
        self.beaten_at = self.clock()  # the claim itself stamped the heartbeat

    def phase(self, name: str) -> Callable[[float], None]:
        start, end = self.kind.phases[name]
        return lambda fraction: self.report(name, start + (end - start) * float(fraction))

    def report(self, phase: str, percent_done: float) -> None:
        if self.should_stop():
            raise JobInterrupted
        percent = max(self.percent, min(99, int(percent_done)))  # never goes back
        due = self.reported_at is None or self.clock() - self.reported_at >= PROGRESS_EVERY_S
        if phase != self.current or (percent != self.percent and due):
            self._write(progress=percent, phase=phase)
            self.percent, self.current = percent, phase
            self.reported_at = self.beaten_at
            self.kind.publish(self.job.pk)
        else:
            self._beat_if_due()

    def yield_if_asked(self) -> None:
        """Between two pieces of work: JobYielded when another kind's job waits (the run
        goes back to the queue), so it waits for one piece at most."""
        if self.should_yield():
            raise JobYielded

    def beat(self) -> None:
        if self.should_stop():
            raise JobInterrupted
        self._beat_if_due()

    def _beat_if_due(self) -> None:
        if self.clock() - self.beaten_at >= self.kind.heartbeat_every_s:
            self._write(progress=self.percent)

    def _write(self, **fields) -> None:
        model, pk = self.kind.model, self.job.pk
        if not reconnecting(
            lambda: state.heartbeat(model, pk=pk, worker_id=self.worker_id, **fields)
        ):
            raise JobLost
        self.beaten_at = self.clock()


def job_run(
    kind: JobKind | str,
    *,
    job: Job,
    worker_id: str,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    should_yield: Callable[[], bool] = lambda: False,
    **options,
) -> Outcome:
    """Run a claimed job's work and record the outcome on the row. ``options`` go to the
    work (a separation's engine); ``clock`` times the heartbeat and progress writes (a test
    moves it on); ``should_yield`` says another kind's job waits (`Run.should_yield`).
    Never raises for a bad job: the reason goes on the row and the worker
    moves on. Every line logged meanwhile carries the job's kind and id, its track's id and
    the worker's claim (`jobs.logcontext`)."""
    kind = kinds.get(kind)
    track = getattr(job, "track_id", None)  # every kind so far is about a track
    with job_log_context(kind=kind.name, job=job.pk, track=track, worker=worker_id):
        return _run(kind, job, worker_id, should_stop, clock, should_yield, options)


def _run(
    kind: JobKind, job: Job, worker_id: str, should_stop, clock, should_yield, options
) -> Outcome:
    try:
        with tempfile.TemporaryDirectory(prefix="run-", dir=process_scratch()) as tmp:
            run = Run(kind, job, worker_id, should_stop, Path(tmp), clock, should_yield)
            made = kind.work_function()(job, run, **options)
    except JobYielded:
        logger.info("%s %s gave way to a waiting job; back to the queue", kind.name, job.pk)
        services.job_release(kind, job_id=job.pk, worker_id=worker_id)
        return Outcome.YIELDED
    except JobInterrupted:
        logger.info("%s %s interrupted by shutdown; back to the queue", kind.name, job.pk)
        services.job_release(kind, job_id=job.pk, worker_id=worker_id)
        return Outcome.QUEUED
    except JobLost:
        # What this run made is gone with it: the scratch folder with the `with`, stored
        # files with the work that stored them.
        return _lost(kind, job)
    except JobFailed as exc:
        logger.info("%s %s failed: %s", kind.name, job.pk, exc)
        return _failed(kind, job, worker_id, str(exc))
    except SoftTimeLimitExceeded:
        logger.warning("%s %s passed the soft time limit", kind.name, job.pk)
        minutes = settings.SEPARATION_SOFT_TIME_LIMIT_S / 60
        return _failed(kind, job, worker_id, kind.over_time_limit(minutes))
    except Exception:
        # The task edge: one bad job must never take the worker down with it.
        logger.exception("%s %s failed", kind.name, job.pk)
        return _failed(kind, job, worker_id, kind.generic_failure)
    return _finish(kind, job, worker_id, made)


def _failed(kind: JobKind, job: Job, worker_id: str, reason: str) -> Outcome:
    reconnecting(lambda: services.job_fail(kind, job_id=job.pk, worker_id=worker_id, reason=reason))
    return Outcome.FAILED


def _finish(kind: JobKind, job: Job, worker_id: str, made: Made) -> Outcome:
    def record() -> bool:
        with transaction.atomic():
            mine = kind.model.objects.claimed(pk=job.pk, worker_id=worker_id)
            if not mine.select_for_update().exists():
                return False
            fields = made.record()
            finished = state.finish(kind.model, pk=job.pk, worker_id=worker_id, phase="", **fields)
            if not finished:  # the claim went after all (no row lock: SQLite): keep nothing
                transaction.set_rollback(True)
            return finished

    try:
        finished = reconnecting(record)
    except Exception:
        made.discard()
        logger.exception("%s %s failed as it finished", kind.name, job.pk)
        return _failed(kind, job, worker_id, kind.generic_failure)
    if not finished:
        made.discard()
        return _lost(kind, job)
    kind.publish(job.pk)
    logger.info("%s %s done by %s", kind.name.capitalize(), job.pk, worker_id)
    return Outcome.DONE


def _lost(kind: JobKind, job: Job) -> Outcome:
    if kind.model.objects.filter(pk=job.pk, status=Outcome.CANCELLED).exists():
        logger.info("%s %s was cancelled; stopped, and nothing of it kept", kind.name, job.pk)
        return Outcome.CANCELLED
    logger.info("%s %s is no longer ours; dropping it", kind.name, job.pk)
    return Outcome.LOST


def job_process(
    kind: JobKind | str, *, job_id: int, worker_id: str | None = None, **options
) -> Outcome | None:
    """Run one job for a message that names ``job_id`` (a Celery task's body).

    A job left `running` by a dead worker (the broker delivered its message again after that
    worker died) is taken over. Otherwise the message claims the *fairest* waiting job of
    its kind (`jobs.services.job_claim_next`: round-robin across users), not necessarily its
    own: every queued job has a message sent, so there are always as many messages as
    waiting jobs, and the message of a job another message ran claims whatever waits then.
    Quiet when nothing waits (its job vanished, is done or is in a live worker's hands)."""
    kind = kinds.get(kind)
    worker_id = worker_id or state.worker_identity()
    job = services.job_take_over(kind, job_id=job_id, worker_id=worker_id)
    if job is None:
        job = services.job_claim_next(kind, worker_id=worker_id)
    if job is None:
        return None
    if job.pk != job_id:
        logger.info(
            "The message for %s %s runs %s %s, next in turn", kind.name, job_id, kind.name, job.pk
        )
    return job_run(kind, job=job, worker_id=worker_id, **options)
