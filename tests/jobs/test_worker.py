"""The embedded worker's loop (`jobs.worker`), for every kind: housekeeping on a deadline,
busy or idle, and the order it takes kinds in. Time is the loop's injected clock."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.services import job_claim
from jobs.worker import Worker
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests import fakes
from tests.factories import make_track

# The worker closes old connections between jobs: real commits, as in production.
pytestmark = pytest.mark.django_db(transaction=True)
Status = SeparationJob.Status


class SteppingClock:
    """A monotonic clock that moves ``step`` seconds on at every look."""

    def __init__(self, step: float):
        self.step, self.now = step, 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def never_idle(seconds: float) -> None:
    pytest.fail("the worker went idle: the queue was meant to stay busy")


def test_a_busy_worker_still_recovers_a_job_whose_worker_died_meanwhile(alice, tmp_path, settings):
    """The queue never empties while the dead job waits, so only a housekeeping deadline
    that runs busy or idle can take it back (an idle-only counter never would)."""
    songs = [make_track(owner=alice, tmp_path=tmp_path, title=f"Song {n}") for n in range(4)]
    victim = make_track(owner=alice, tmp_path=tmp_path, title="Victim").job
    # Another machine's worker has it, alive (a fresh heartbeat) when this worker starts.
    assert job_claim(SEPARATION, job_id=victim.id, worker_id="otherhost:1:alive")
    stale = timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)

    def that_worker_dies(fraction: float) -> None:
        SeparationJob.objects.filter(id=victim.id).update(heartbeat_at=timezone.now() - stale)

    worker = Worker(
        worker_id="here:1:busy",
        # Stop once the victim is back in the queue: songs must still be waiting then.
        should_stop=lambda: SeparationJob.objects.filter(
            id=victim.id, status=Status.QUEUED
        ).exists(),
        wait=never_idle,
        poll_interval_s=1.0,
        housekeeping_every_s=30.0,
        clock=SteppingClock(step=11.0),
        options={"separation": {"engine": fakes.FakeEngine(on_progress=that_worker_dies)}},
    )
    worker.run()

    victim.refresh_from_db()
    assert (victim.status, victim.attempts, victim.claimed_by) == (Status.QUEUED, 1, "")
    done = SeparationJob.objects.filter(track__in=songs, status=Status.DONE).count()
    waiting = SeparationJob.objects.filter(track__in=songs, status=Status.QUEUED).count()
    assert (done, waiting) == (3, 1)  # taken back between songs, the queue never empty


def test_housekeeping_waits_for_its_deadline_between_jobs(db):
    clock = SteppingClock(step=10.0)
    worker = Worker(
        worker_id="here:1:w",
        should_stop=lambda: False,
        wait=never_idle,
        poll_interval_s=1.0,
        housekeeping_every_s=30.0,
        clock=clock,
    )
    swept = [worker.housekeep_if_due() for _ in range(6)]
    assert swept == [True, False, False, True, False, False]
