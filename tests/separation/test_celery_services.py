"""The scale-out mode's pieces without a broker: the Celery configuration, the take-over of
a redelivered job, the outbox sweep, the soft time limit. (test_celery_mode.py runs them
with real workers and Redis.)"""

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from jamwithme.celery import app as celery_app
from jobs.runner import job_process
from jobs.services import job_claim, job_redispatch_waiting
from jobs.state import UNSENT_GRACE_S
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests import fakes
from tests.factories import make_track

Status = SeparationJob.Status
TOO_MANY_ATTEMPTS = SEPARATION.too_many_attempts


@pytest.fixture
def job(alice, tmp_path):
    return make_track(owner=alice, tmp_path=tmp_path, title="Song").job


def dead_worker() -> str:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{socket.gethostname()}:{int(finished.stdout)}:gone"


def test_the_project_app_sends_separation_to_its_queue_and_acks_late():
    route = celery_app.amqp.router.route({}, "separation.tasks.separate_task")
    assert route["queue"].name == "separation"
    assert celery_app.conf.task_default_queue == "separation"
    conf = celery_app.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost) == (True, True)
    assert conf.worker_prefetch_multiplier == 1
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility > conf.task_time_limit > conf.task_soft_time_limit


def test_a_redelivered_job_of_a_dead_worker_is_taken_over(job):
    job_claim(SEPARATION, job_id=job.id, worker_id=dead_worker())
    assert (
        job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine(), worker_id="new:1:x")
        == "done"
    )
    job.refresh_from_db()
    assert (job.status, job.attempts, job.claimed_by) == (Status.DONE, 2, "new:1:x")


def test_a_redelivered_job_with_a_stale_heartbeat_is_taken_over(job, settings):
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:silent")
    old = timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    SeparationJob.objects.filter(id=job.id).update(heartbeat_at=old)
    assert job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine()) == "done"


def test_a_duplicate_message_leaves_a_live_workers_job_alone(job):
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:alive")
    engine = fakes.FakeEngine()
    assert job_process(SEPARATION, job_id=job.id, engine=engine) is None
    job.refresh_from_db()
    assert (job.status, job.claimed_by, engine.calls) == (Status.RUNNING, "otherhost:1:alive", [])


def test_a_message_redelivered_after_its_job_is_done_changes_nothing(job):
    """Redis hands an unacknowledged message out again after the visibility timeout, also
    when the worker that held it died after finishing the job."""
    assert (
        job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine(), worker_id="w1:1:x")
        == "done"
    )
    job.refresh_from_db()
    done = (job.status, job.attempts, job.claimed_by, job.finished_at)
    stems = sorted(job.track.assets.values_list("name", flat=True))
    engine = fakes.FakeEngine()
    assert job_process(SEPARATION, job_id=job.id, engine=engine, worker_id="w2:2:y") is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.claimed_by, job.finished_at) == done
    assert sorted(job.track.assets.values_list("name", flat=True)) == stems
    assert engine.calls == []


def test_a_redelivered_job_that_keeps_killing_workers_is_failed(job, settings):
    settings.SEPARATION_MAX_ATTEMPTS = 1
    job_claim(SEPARATION, job_id=job.id, worker_id=dead_worker())
    assert job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine()) is None
    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, TOO_MANY_ATTEMPTS)


def test_the_sweep_sends_jobs_never_sent_or_sent_long_ago_but_not_one_queued_a_moment_ago(
    alice, tmp_path, settings, sent_messages
):
    never, just_queued, long_ago, recent, running = (
        make_track(owner=alice, tmp_path=tmp_path, title=str(n)).job for n in range(5)
    )
    sent_messages.clear()  # what the uploads sent
    now = timezone.now()
    old = now - timedelta(seconds=settings.SEPARATION_REDISPATCH_AFTER_S + 1)
    # Queued 11 s ago and never sent: the broker was down. Queued a moment ago and not yet
    # noted as sent: its upload's own send is under way.
    a_while_ago = now - timedelta(seconds=UNSENT_GRACE_S + 1)
    SeparationJob.objects.filter(id=never.id).update(dispatched_at=None, updated_at=a_while_ago)
    SeparationJob.objects.filter(id=just_queued.id).update(dispatched_at=None, updated_at=now)
    SeparationJob.objects.filter(id=long_ago.id).update(dispatched_at=old)
    SeparationJob.objects.filter(id=recent.id).update(dispatched_at=now)
    SeparationJob.objects.filter(id=running.id).update(dispatched_at=None, status=Status.RUNNING)

    assert job_redispatch_waiting(
        SEPARATION,
    ) == [never.id, long_ago.id]
    assert [args for _, args, _ in sent_messages] == [(never.id,), (long_ago.id,)]
    assert (
        job_redispatch_waiting(
            SEPARATION,
        )
        == []
    )  # each was marked as sent just now


def test_the_soft_time_limit_fails_the_job_with_a_reason(job, settings):
    settings.SEPARATION_SOFT_TIME_LIMIT_S = 1200
    engine = fakes.FakeEngine(fail_with=SoftTimeLimitExceeded())
    assert job_process(SEPARATION, job_id=job.id, engine=engine) == "failed"
    job.refresh_from_db()
    assert job.error == "Separating this track took longer than the limit (20 minutes)."


def test_a_worker_without_the_model_fails_the_task_and_leaves_the_job_queued(job, monkeypatch):
    """The task has its engine before it claims: a worker whose weights are missing does not
    fail the song for everyone; the message goes back and a worker with the model runs it."""
    import engine as audio_engine
    from separation.tasks import separate_task

    def no_model(**config):
        raise audio_engine.ModelError("weights missing")

    monkeypatch.setattr(audio_engine, "get_engine", no_model, raising=False)
    with pytest.raises(audio_engine.ModelError, match="weights missing"):
        separate_task.run(job.id)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.claimed_by) == (Status.QUEUED, 0, "")
