"""`/metrics`: live workers per queue (their heartbeat rows), waiting jobs and the oldest one's
age per kind, the time since the last claim, a histogram of run times per kind, the broker's
queue lengths, and this process's open sockets."""

import os
import uuid
from datetime import timedelta

import pytest
import redis
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from prometheus_client import REGISTRY

from jamwithme.asgi import application
from jobs.models import WorkerBeat
from jobs.services import job_claim, job_fail, worker_beat
from jobs.state import worker_identity
from jobs.worker import Worker
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests.factories import make_track
from tests.jamwithme.test_metrics import scrape, set_times
from tests.notifications.test_consumers import session_cookie

pytestmark = pytest.mark.django_db


def embedded_worker(name: str) -> Worker:
    return Worker(
        worker_id=name,
        should_stop=lambda: False,
        wait=lambda seconds: None,
        poll_interval_s=0.01,
        housekeeping_every_s=30,
    )


@pytest.mark.django_db(transaction=True)  # the worker closes its connections, as in production
def test_an_embedded_worker_counts_as_live_on_every_queue_while_it_runs(client):
    worker = embedded_worker("host:1:abc")
    worker.housekeep_if_due()
    samples = scrape(client)
    assert samples[("jamwithme_workers_live", (("queue", "separation"),))] == 1
    assert samples[("jamwithme_workers_live", (("queue", "renders"),))] == 1

    worker.run(once=True)  # nothing queued: it stops, and its row goes
    assert not WorkerBeat.objects.exists()
    assert scrape(client)[("jamwithme_workers_live", (("queue", "separation"),))] == 0


def test_a_worker_whose_beat_is_old_is_not_counted(client, settings):
    worker_beat(name="celery@gpu-1", queues=["separation"])
    worker_beat(name="celery@cpu-1", queues=["renders"])
    WorkerBeat.objects.filter(name="celery@gpu-1").update(
        beat_at=timezone.now() - timedelta(seconds=settings.JAM_WORKER_LIVE_WITHIN_S + 1)
    )
    samples = scrape(client)
    assert samples[("jamwithme_workers_live", (("queue", "separation"),))] == 0
    assert samples[("jamwithme_workers_live", (("queue", "renders"),))] == 1


def test_waiting_jobs_their_age_the_last_claim_and_run_times_are_read_per_kind(
    client, alice, tmp_path
):
    worker = worker_identity()
    waiting = make_track(owner=alice, tmp_path=tmp_path, title="Waiting")
    SeparationJob.objects.filter(id=waiting.job.id).update(
        created_at=timezone.now() - timedelta(seconds=600)
    )
    make_track(owner=alice, tmp_path=tmp_path, title="Waiting too")
    done = [make_track(owner=alice, tmp_path=tmp_path, separated=True) for _ in range(2)]
    set_times(done[0].job, waited_s=10, ran_s=8, ended_ago_s=400)
    set_times(done[1].job, waited_s=10, ran_s=100, ended_ago_s=300)
    failed = make_track(owner=alice, tmp_path=tmp_path, title="Failed")
    job_claim(SEPARATION, job_id=failed.job.id, worker_id=worker)
    job_fail(SEPARATION, job_id=failed.job.id, worker_id=worker, reason="Broken")
    set_times(failed.job, waited_s=20, ran_s=3, ended_ago_s=200)  # started 203 s ago

    samples = scrape(client)
    kind = (("kind", "separation"),)
    assert (
        samples[("jamwithme_jobs_waiting", (("kind", "separation"), ("queue", "separation")))] == 2
    )
    assert samples[("jamwithme_jobs_waiting", (("kind", "render"), ("queue", "renders")))] == 0
    assert 600 <= samples[("jamwithme_jobs_oldest_waiting_age_seconds", kind)] < 3600
    assert samples[("jamwithme_jobs_oldest_waiting_age_seconds", (("kind", "render"),))] == 0
    assert 203 <= samples[("jamwithme_jobs_last_claim_age_seconds", kind)] < 3600
    assert ("jamwithme_jobs_last_claim_age_seconds", (("kind", "render"),)) not in samples

    def bucket(le):
        return samples[
            ("jamwithme_job_duration_seconds_bucket", (("kind", "separation"), ("le", le)))
        ]

    assert bucket("5.0") == 1  # the failure, 3 s
    assert bucket("10.0") == 2  # and the 8 s one
    assert bucket("60.0") == 2
    assert bucket("120.0") == 3  # and the 100 s one
    assert bucket("+Inf") == 3
    assert samples[("jamwithme_job_duration_seconds_count", kind)] == 3
    assert samples[("jamwithme_job_duration_seconds_sum", kind)] == pytest.approx(111)


def test_the_brokers_queue_length_is_read_from_a_redis_broker(client, settings):
    url = os.environ.get("TEST_CELERY_BROKER_URL", "")
    if not url.startswith("redis://"):
        pytest.skip("needs TEST_CELERY_BROKER_URL=redis://... (a Redis of this run's own)")
    settings.CELERY_BROKER_URL = url
    settings.SEPARATION_QUEUE = queue = f"separation-{uuid.uuid4().hex[:8]}"
    broker = redis.Redis.from_url(url)
    try:
        broker.rpush(queue, b"one", b"two")
        samples = scrape(client)
        assert samples[("jamwithme_broker_queue_length", (("queue", queue),))] == 2
    finally:
        broker.delete(queue)
        broker.close()


def test_an_unreachable_broker_leaves_its_queue_lengths_out_and_the_rest_in(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/5"
    samples = scrape(client)
    assert not any(name == "jamwithme_broker_queue_length" for name, _ in samples)
    assert ("jamwithme_workers_live", (("queue", "separation"),)) in samples


@pytest.mark.django_db(transaction=True)
async def test_open_sockets_are_counted_until_they_close(alice):
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(session_cookie)(alice)
    before = REGISTRY.get_sample_value("jamwithme_sockets_open")
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    headers.append((b"cookie", f"sessionid={cookie}".encode()))
    sockets = [
        WebsocketCommunicator(application, "/ws/notifications/", headers=headers) for _ in range(2)
    ]
    for socket in sockets:
        connected, _ = await socket.connect()
        assert connected
    assert REGISTRY.get_sample_value("jamwithme_sockets_open") == before + 2
    for socket in sockets:
        await socket.disconnect()
    assert REGISTRY.get_sample_value("jamwithme_sockets_open") == before
