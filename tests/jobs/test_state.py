"""The shared job state changes (`jobs.state`), tried on every kind of job: a song's
separation, an export's render and a link's import. The apps' own tests cover the events
around them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from imports.models import ImportJob
from jobs import state
from practice.models import Render
from separation.models import SeparationJob
from tracks.models import Track

pytestmark = pytest.mark.django_db

DEAD = "otherhost:1:dead"
ALIVE = "otherhost:2:alive"


@pytest.fixture(params=[SeparationJob, Render, ImportJob], ids=["separation", "render", "import"])
def model(request):
    return request.param


@pytest.fixture
def job(model, alice):
    """A queued job of the kind under test, as the apps create them."""
    return model.objects.create(track=Track.objects.create(owner=alice, title="Song"))


def claimed_by(job, worker_id):
    assert state.claim(type(job), pk=job.pk, worker_id=worker_id)
    job.refresh_from_db()
    return job


def long_ago():
    return timezone.now() - timedelta(hours=1)


def test_only_one_worker_can_claim_a_queued_job(model, job):
    assert state.claim(model, pk=job.pk, worker_id="w1")
    assert not state.claim(model, pk=job.pk, worker_id="w2")
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts) == ("running", "w1", 1)
    assert job.started_at is not None and job.heartbeat_at is not None


def test_a_worker_without_the_claim_changes_nothing(model, job):
    claimed_by(job, "w1")
    before = model.objects.filter(pk=job.pk).values().get()
    assert not state.heartbeat(model, pk=job.pk, worker_id="w2", progress=50)
    assert not state.fail(model, pk=job.pk, worker_id="w2", reason="not mine")
    assert not state.release(model, pk=job.pk, worker_id="w2")
    assert not state.finish(model, pk=job.pk, worker_id="w2")
    assert model.objects.filter(pk=job.pk).values().get() == before


def test_the_claim_holder_records_progress_and_then_the_outcome(model, job):
    claimed_by(job, "w1")
    assert state.heartbeat(model, pk=job.pk, worker_id="w1", progress=40)
    assert model.objects.get(pk=job.pk).progress == 40
    assert state.fail(model, pk=job.pk, worker_id="w1", reason="x" * 600)
    job.refresh_from_db()
    assert (job.status, len(job.error)) == ("failed", 500)
    assert job.finished_at is not None
    assert not state.heartbeat(model, pk=job.pk, worker_id="w1", progress=50)


def test_a_released_job_is_queued_again_and_its_attempt_does_not_count(model, job):
    claimed_by(job, "w1")
    assert state.release(model, pk=job.pk, worker_id="w1")
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts, job.heartbeat_at) == ("queued", "", 0, None)


def test_a_take_over_only_wins_over_a_dead_claim(model, job):
    claimed_by(job, ALIVE)
    taken = state.take_over(
        model, pk=job.pk, worker_id="w2", stale_before=long_ago(), max_attempts=3, reason="?"
    )
    assert taken is None
    assert model.objects.get(pk=job.pk).claimed_by == ALIVE

    model.objects.filter(pk=job.pk).update(heartbeat_at=long_ago() - timedelta(seconds=1))
    taken = state.take_over(
        model, pk=job.pk, worker_id="w2", stale_before=long_ago(), max_attempts=3, reason="?"
    )
    assert taken == "running"
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts) == ("running", "w2", 2)


def test_a_take_over_fails_a_job_that_was_attempted_too_often(model, job):
    claimed_by(job, DEAD)
    model.objects.filter(pk=job.pk).update(heartbeat_at=None)
    taken = state.take_over(
        model, pk=job.pk, worker_id="w2", stale_before=long_ago(), max_attempts=1, reason="Again?"
    )
    assert taken == "failed"
    job.refresh_from_db()
    assert (job.status, job.error, job.claimed_by) == ("failed", "Again?", DEAD)


def test_a_take_back_queues_a_dead_claim_or_fails_it_after_the_last_attempt(model, alice):
    track = Track.objects.create(owner=alice, title="Song")
    queued_again = claimed_by(model.objects.create(track=track), DEAD)
    given_up = claimed_by(model.objects.create(track=Track.objects.create(owner=alice)), DEAD)

    common = {"claimed_by": DEAD, "attempts": 1, "reason": "Too often."}
    assert state.take_back(model, pk=queued_again.pk, max_attempts=2, **common) == "queued"
    assert state.take_back(model, pk=given_up.pk, max_attempts=1, **common) == "failed"
    # The claim has changed since: nothing left to take back.
    assert state.take_back(model, pk=queued_again.pk, max_attempts=2, **common) is None

    queued_again.refresh_from_db()
    given_up.refresh_from_db()
    assert (queued_again.status, queued_again.claimed_by) == ("queued", "")
    assert (given_up.status, given_up.error) == ("failed", "Too often.")


def test_a_requeued_job_starts_afresh_but_only_from_the_statuses_named(model, job):
    claimed_by(job, "w1")
    assert not state.requeue(model, pk=job.pk, statuses=("failed",))  # running: left alone
    state.fail(model, pk=job.pk, worker_id="w1", reason="Broke.")
    assert state.requeue(model, pk=job.pk, statuses=("failed",))
    job.refresh_from_db()
    assert (job.status, job.error, job.attempts, job.claimed_by) == ("queued", "", 0, "")
    assert (job.started_at, job.finished_at, job.dispatched_at) == (None, None, None)


def test_the_next_claim_takes_the_job_that_waited_longest(model, alice):
    newer = model.objects.create(track=Track.objects.create(owner=alice, title="New"))
    older = model.objects.create(track=Track.objects.create(owner=alice, title="Old"))
    model.objects.filter(pk=older.pk).update(updated_at=long_ago())

    def claim(pk):
        return pk if state.claim(model, pk=pk, worker_id="w") else None

    assert state.claim_next(model, claim) == older.pk
    assert state.claim_next(model, claim) == newer.pk
    assert state.claim_next(model, claim) is None


def test_active_jobs_are_the_queued_and_the_running(model, job):
    assert list(model.objects.active()) == [job]
    claimed_by(job, "w")
    assert list(model.objects.active()) == [job]
    state.finish(model, pk=job.pk, worker_id="w")
    assert not model.objects.active().exists()


def test_the_sweep_sends_what_was_never_sent_or_sent_long_ago_not_what_was_queued_just_now(
    model, alice
):
    def queued(**fields):
        job = model.objects.create(track=Track.objects.create(owner=alice, title="Song"))
        model.objects.filter(pk=job.pk).update(**fields)
        return job.pk

    now = timezone.now()
    broker_was_down = queued(updated_at=now - timedelta(seconds=state.UNSENT_GRACE_S + 1))
    send_under_way = queued(updated_at=now)
    message_lost = queued(dispatched_at=now - timedelta(seconds=601))
    queued(dispatched_at=now - timedelta(seconds=599))  # sent recently: in the broker
    queued(dispatched_at=None, status="running", updated_at=long_ago())  # claimed
    waiting = state.waiting_to_send(model, resend_after_s=600)
    assert waiting == [broker_was_down, message_lost]
    assert send_under_way not in waiting
