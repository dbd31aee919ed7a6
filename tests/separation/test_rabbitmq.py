"""The same Celery mode on RabbitMQ (AMQP), the other broker docs/deploy.md names: a real
`celery -A jamwithme worker -Q separation` on TEST_RABBITMQ_URL (guest on the local server
by default). RabbitMQ hands a killed worker's unacknowledged message to the next consumer at
once (Redis waits for the visibility timeout): that redelivery must take the job over."""

import os
import signal

import pytest
from kombu import Connection

from separation.models import SeparationJob
from tests.separation.test_celery_mode import job_of, upload
from tests.separation.workers import use_broker, wait_for

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

RABBITMQ = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
Status = SeparationJob.Status


def purge_separation_queue(connection: Connection) -> None:
    channel = connection.channel()
    try:
        channel.queue_purge("separation")
    except Exception:  # not declared yet (a fresh server): nothing to purge
        pass
    finally:
        channel.close()


@pytest.fixture
def rabbitmq(settings, celery_mode):
    connection = Connection(RABBITMQ, connect_timeout=3)
    try:
        connection.ensure_connection(max_retries=1)
    except Exception:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs RabbitMQ at {RABBITMQ}")
        pytest.skip(f"no RabbitMQ at {RABBITMQ}")
    purge_separation_queue(connection)
    settings.CELERY_BROKER_URL = RABBITMQ
    use_broker(RABBITMQ)
    yield connection
    purge_separation_queue(connection)
    connection.release()


def test_on_rabbitmq_an_upload_is_separated_by_a_worker(
    rabbitmq, alice_client, start_worker, tmp_path
):
    track_id = upload(alice_client, tmp_path)
    assert job_of(track_id).dispatched_at is not None
    worker = start_worker("amqp-one", env={"CELERY_BROKER_URL": RABBITMQ})
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=worker.log_path)
    job = job_of(track_id)
    assert (job.progress, job.attempts, job.error) == (100, 1, "")
    assert job.track.assets.filter(kind="stem").count() == 2


def test_on_rabbitmq_a_killed_workers_job_is_redelivered_and_taken_over(
    rabbitmq, alice_client, start_worker, tmp_path
):
    halfway = tmp_path / "halfway"
    amqp = {"CELERY_BROKER_URL": RABBITMQ}
    # No sweeps after the ones at start: only RabbitMQ's redelivery can bring the job back.
    first = start_worker("amqp-first", hold=halfway, sweep_every=600, env=amqp)
    track_id = upload(alice_client, tmp_path)
    wait_for(halfway.exists, what="the first worker to be mid-job", log=first.log_path)
    # Started while the first is alive: its start-up sweep leaves the job to it.
    second = start_worker("amqp-second", sweep_every=600, env=amqp)
    assert job_of(track_id).status == Status.RUNNING

    first.send_signal(signal.SIGKILL)
    first.wait()
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=second.log_path)
    job = job_of(track_id)
    assert job.attempts == 2
    assert int(job.claimed_by.split(":")[1]) == second.pid
