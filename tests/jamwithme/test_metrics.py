"""`/metrics`: the job series read from the rows at scrape time, and who may scrape."""

import ipaddress
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.services import job_claim, job_fail
from jobs.state import worker_identity
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests.factories import make_track

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def set_times(job, *, waited_s: float, ran_s: float, ended_ago_s: float = 60) -> None:
    finished = timezone.now() - timedelta(seconds=ended_ago_s)
    started = finished - timedelta(seconds=ran_s)
    SeparationJob.objects.filter(id=job.id).update(
        created_at=started - timedelta(seconds=waited_s), started_at=started, finished_at=finished
    )


@pytest.fixture
def jobs(alice, tmp_path):
    """Two queued, one running, two done, one failed, one done long ago."""
    worker = worker_identity()
    for title in ("Queued 1", "Queued 2"):
        make_track(owner=alice, tmp_path=tmp_path, title=title)
    running = make_track(owner=alice, tmp_path=tmp_path, title="Running")
    job_claim(SEPARATION, job_id=running.job.id, worker_id=worker)
    done = [make_track(owner=alice, tmp_path=tmp_path, separated=True) for _ in range(2)]
    set_times(done[0].job, waited_s=10, ran_s=100)
    set_times(done[1].job, waited_s=30, ran_s=300)
    failed = make_track(owner=alice, tmp_path=tmp_path, title="Failed")
    job_claim(SEPARATION, job_id=failed.job.id, worker_id=worker)
    job_fail(SEPARATION, job_id=failed.job.id, worker_id=worker, reason="Broken")
    set_times(failed.job, waited_s=20, ran_s=5)
    old = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    set_times(old.job, waited_s=1000, ran_s=9999, ended_ago_s=7200)


def test_it_counts_queued_and_running_jobs_from_the_rows(client, jobs):
    samples = scrape(client)
    assert samples[("jamwithme_separation_metrics_up", ())] == 1
    assert samples[("jamwithme_separation_jobs_queued", ())] == 2
    assert samples[("jamwithme_separation_jobs_running", ())] == 1
    assert samples[("jamwithme_separation_oldest_queued_age_seconds", ())] > 0


def test_it_gives_durations_of_the_jobs_finished_in_the_window(client, jobs, settings):
    settings.JAM_METRICS_WINDOW_S = 3600
    samples = scrape(client)

    def duration(outcome, q):
        key = (("outcome", outcome), ("quantile", q))
        return samples[("jamwithme_separation_job_duration_seconds", key)]

    finished = "jamwithme_separation_jobs_finished_window"
    assert samples[(finished, (("outcome", "done"),))] == 2  # not the one 2 hours ago
    assert samples[(finished, (("outcome", "failed"),))] == 1
    assert duration("done", "0.5") == pytest.approx(200)
    assert duration("done", "0.95") == pytest.approx(290)
    assert duration("done", "1") == pytest.approx(300)
    assert duration("failed", "0.5") == pytest.approx(5)
    wait = "jamwithme_separation_queue_wait_seconds"
    assert samples[(wait, (("quantile", "0.5"),))] == pytest.approx(20)
    assert samples[(wait, (("quantile", "1"),))] == pytest.approx(30)


def test_it_leaves_durations_out_when_nothing_finished(client, alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path)
    samples = scrape(client)
    assert samples[("jamwithme_separation_jobs_queued", ())] == 1
    assert not [key for key in samples if key[0] == "jamwithme_separation_job_duration_seconds"]


def test_it_includes_the_request_series(client):
    scrape(client)
    samples = scrape(client)
    assert any(name.startswith("django_http_requests") for name, _ in samples)


def test_it_refuses_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403
    assert b"jamwithme" not in response.content


def test_it_refuses_loopback_requests_that_came_through_a_proxy(client):
    response = client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert response.status_code == 403


def test_it_lets_configured_networks_in(client, settings):
    settings.JAM_METRICS_ALLOWED = [ipaddress.ip_network("10.0.0.0/8")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed


def test_it_takes_the_bearer_token_from_anywhere(client, settings):
    settings.JAM_METRICS_TOKEN = "s3cret-token"
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert (
        client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token", **outside).status_code
        == 200
    )
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong", **outside).status_code == 403
    # A wrong token is refused even from loopback.
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_it_says_the_job_series_are_down_when_the_database_fails(client, monkeypatch):
    from django.db import DatabaseError

    from jamwithme import metrics

    def broken(self):
        raise DatabaseError("down")

    monkeypatch.setattr(metrics.JobCollector, "_job_families", broken)
    samples = scrape(client)
    assert samples[("jamwithme_separation_metrics_up", ())] == 0
    assert ("jamwithme_separation_jobs_queued", ()) not in samples
