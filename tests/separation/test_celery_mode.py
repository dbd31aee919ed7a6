"""The scale-out mode with real Celery workers: separate processes started with the
documented command on queue `separation`, a real Redis broker (TEST_CELERY_BROKER_URL,
database 3 by default) and the test's own database (a file for SQLite) and media folder.

Nothing in the path under test is mocked: this process is the web process (uploads through
the view, sends with the project's Celery app), the workers are `celery -A jamwithme worker`.
Only the engine is a fake (SEPARATION_ENGINE_FACTORY, `tests.fakes.worker_engine`), so the
workers do not need the model. The fixtures (broker, workers) are in conftest.py.
"""

import os
import re
import signal
import time

import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.urls import reverse

from practice.models import Render
from separation.models import SeparationJob
from tests import fakes
from tests.engine.conftest import DATA
from tests.factories import make_track
from tests.separation.test_upload import post_file
from tests.separation.workers import use_broker, wait_for

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

CLOSED_PORT_BROKER = "redis://127.0.0.1:9/3"  # nothing listens on the discard port
Status = SeparationJob.Status


def job_of(track_id: int) -> SeparationJob:
    return SeparationJob.objects.get(track_id=track_id)


def upload(client, tmp_path) -> int:
    song = fakes.write_wav(tmp_path / "song.wav", seconds=1.0)
    response = post_file(client, song, title="Song", HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content
    return SeparationJob.objects.latest("id").track_id


def test_an_upload_is_sent_to_the_separation_queue_and_separated_by_a_worker(
    alice_client, start_worker, broker, tmp_path
):
    track_id = upload(alice_client, tmp_path)
    assert broker.llen("separation") == 1  # the documented queue, not Celery's default
    assert broker.llen("celery") == 0
    assert job_of(track_id).dispatched_at is not None

    worker = start_worker("one")
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=worker.log_path)
    job = job_of(track_id)
    assert (job.progress, job.attempts, job.error) == (100, 1, "")
    assert job.track.assets.filter(kind="stem").count() == 2


def test_a_job_of_a_worker_killed_mid_job_is_done_by_the_next_worker(
    alice_client, start_worker, tmp_path
):
    halfway = tmp_path / "halfway"
    first = start_worker("first", hold=halfway)
    track_id = upload(alice_client, tmp_path)
    wait_for(halfway.exists, what="the first worker to be mid-job", log=first.log_path)
    assert job_of(track_id).status == Status.RUNNING

    first.send_signal(signal.SIGKILL)
    first.wait()
    assert job_of(track_id).status == Status.RUNNING  # nobody has told the row

    second = start_worker("second")
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=second.log_path)
    assert job_of(track_id).attempts == 2


def test_a_redelivered_job_whose_pool_process_died_is_taken_over(
    alice_client, start_worker, tmp_path
):
    # Only the pool process dies: the worker hands the message back (reject on worker
    # lost) and runs it again; the job, still `running` under the dead claim, is taken over.
    halfway = tmp_path / "halfway"
    # No sweep after the one at start: only the redelivered message can bring the job back.
    worker = start_worker("prefork", pool="prefork", hold=halfway, sweep_every=600)
    track_id = upload(alice_client, tmp_path)
    wait_for(halfway.exists, what="the worker to be mid-job", log=worker.log_path)
    pool_pid = int(job_of(track_id).claimed_by.split(":")[1])
    assert pool_pid != worker.pid
    halfway.unlink()
    os.kill(pool_pid, signal.SIGKILL)

    # The new pool process holds too: the take-over shows as a new claim, second attempt.
    wait_for(halfway.exists, what="the job to be taken over", log=worker.log_path)
    job = job_of(track_id)
    assert (job.status, job.attempts) == (Status.RUNNING, 2)
    assert str(pool_pid) not in job.claimed_by


def test_an_upload_while_the_broker_is_down_is_queued_and_runs_once_it_is_back(
    alice_client, start_worker, tmp_path, caplog
):
    worker = start_worker("one")
    use_broker(CLOSED_PORT_BROKER)  # the web process cannot reach the broker
    started = time.monotonic()
    track_id = upload(alice_client, tmp_path)  # 201, not a 500
    assert time.monotonic() - started < 15
    assert f"Could not send separation {job_of(track_id).id} to the broker" in caplog.text
    job = job_of(track_id)
    assert (job.status, job.dispatched_at) == (Status.QUEUED, None)

    # The workers' sweep finds the job that was never sent and sends it. (Its
    # `dispatched_at` may stay empty: the worker can claim the job before the sweep notes
    # the send, and a claimed job needs no note.)
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=worker.log_path)
    sent = f"Sent 1 waiting separation job(s) to the broker again: [{job.id}]"
    assert sent in worker.log_path.read_text()


def test_an_export_goes_to_the_renders_queue_and_a_worker_on_it_makes_it(
    alice_client, alice, start_worker, broker, tmp_path
):
    """docs/deploy.md's worker (`-Q separation,renders`) makes exports too."""
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=2.0)
    response = alice_client.post(
        reverse("practice:exports", args=[track.id]),
        {"tempo": "0.8", "format": "flac"},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 202, response.content
    render_id = response.json()["id"]
    assert broker.llen("renders") == 1  # its own queue

    worker = start_worker("renders", queues="separation,renders")
    wait_for(
        lambda: Render.objects.get(id=render_id).status == Render.Status.DONE,
        what="the export",
        log=worker.log_path,
    )
    render = Render.objects.get(id=render_id)
    with default_storage.open(render.asset.name) as stored:
        info = sf.info(stored)
    assert info.format == "FLAC"
    assert abs(info.duration - 2.0 / 0.8) < 0.03


def test_a_running_job_cancelled_from_the_page_stops_its_worker_and_leaves_no_files(
    alice_client, start_worker, private_media, tmp_path
):
    from django.urls import reverse

    halfway, release = tmp_path / "halfway", tmp_path / "release"
    worker = start_worker("one", hold=halfway, env={"FAKE_ENGINE_RELEASE": str(release)})
    track_id = upload(alice_client, tmp_path)
    wait_for(halfway.exists, what="the worker to be mid-job", log=worker.log_path)
    assert job_of(track_id).status == Status.RUNNING

    response = alice_client.post(reverse("separation:cancel", args=[track_id]), follow=True)
    assert "Separation of “Song” cancelled." in response.content.decode()
    assert job_of(track_id).status == Status.CANCELLED
    release.touch()  # the engine goes on, and its next progress report finds the job cancelled

    wait_for(
        lambda: "was cancelled; stopped" in worker.log_path.read_text(),
        what="the worker to stop the job",
        log=worker.log_path,
    )
    job = job_of(track_id)
    assert job.status == Status.CANCELLED
    assert not job.track.assets.exclude(kind="original").exists()
    original = job.track.assets.get(kind="original").name
    assert [
        p.relative_to(private_media).as_posix() for p in private_media.rglob("*") if p.is_file()
    ] == [original]
    assert [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()] == []

    # The worker is free for the next song.
    halfway.unlink()
    second = upload(alice_client, tmp_path)
    wait_for(lambda: job_of(second).status == Status.DONE, what="the next job", log=worker.log_path)


@pytest.mark.model
def test_a_gpu_style_worker_separates_songs_at_once_with_their_pieces_batched_together(
    alice_client, start_worker, broker, settings, tmp_path
):
    """The GPU worker's path (docs/deploy.md): separations sent to `separation-gpu`, one
    worker process on Celery's threads pool separating two songs at once through one
    batching model. The device is the CPU here; the real networks, the real songs."""
    settings.SEPARATION_QUEUE = "separation-gpu"
    track_ids = []
    for name in ("dev1_vocadito10_loops", "dev2_festival_sectoid"):
        song = tmp_path / f"{name}.flac"
        song.write_bytes((DATA / name / "mix.flac").read_bytes())
        response = post_file(alice_client, song, title=name, HTTP_ACCEPT="application/json")
        assert response.status_code == 201, response.content
        track_ids.append(SeparationJob.objects.latest("id").track_id)
    assert broker.llen("separation-gpu") == 2 and broker.llen("separation") == 0

    env = {
        "SEPARATION_ENGINE_FACTORY": "",  # the real engine
        "JAM_SEPARATION_QUEUE": "separation-gpu",
        "JAM_ENGINE_DEVICE": "cpu",
        "JAM_ENGINE_BATCH": "4",
    }
    worker = start_worker("gpu", pool="threads", concurrency=2, queues="separation-gpu", env=env)
    for track_id in track_ids:
        wait_for(
            lambda t=track_id: job_of(t).status == Status.DONE,
            what="both songs",
            timeout=180,
            log=worker.log_path,
        )
    jobs = [job_of(t) for t in track_ids]
    assert len({job.claimed_by.split(":")[1] for job in jobs}) == 1  # one worker process
    # They ran at the same time, so their pieces shared the networks.
    assert max(job.started_at for job in jobs) < min(job.finished_at for job in jobs)
    log = worker.log_path.read_text()
    batches = [line for line in log.splitlines() if "network batches so far" in line]
    print(*batches, sep="\n")
    assert len(batches) == 2, log
    assert any(int(n) > 1 for n in re.findall(r"(\d+): \d+", batches[-1])), batches
    for job in jobs:
        assert job.track.assets.filter(kind="stem").count() == 2


def test_a_celery_worker_writes_its_heartbeat_row_by_node_name_and_removes_it_as_it_stops(
    start_worker,
):
    from jobs.models import WorkerBeat

    worker = start_worker("beating", queues="separation,renders")
    wait_for(
        lambda: WorkerBeat.objects.filter(name__startswith="beating@").exists(),
        what="the heartbeat row",
        log=worker.log_path,
    )
    beat = WorkerBeat.objects.get(name__startswith="beating@")
    assert sorted(beat.queue_names) == ["renders", "separation"]

    worker.send_signal(signal.SIGTERM)  # a warm shutdown, as systemd or Kubernetes stops it
    worker.wait(timeout=60)
    assert not WorkerBeat.objects.filter(name__startswith="beating@").exists()


def test_a_celery_workers_json_lines_name_its_node_and_the_job_from_the_task_received_on(
    alice_client, start_worker, tmp_path
):
    import json

    worker = start_worker("jsonlog", env={"LOG_FORMAT": "json"})
    track_id = upload(alice_client, tmp_path)
    job_id = job_of(track_id).id
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=worker.log_path)
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=60)
    lines = [
        json.loads(line)
        for line in worker.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    received = next(line for line in lines if line["message"].endswith("received"))
    assert (received["job_kind"], received["job_id"]) == ("separation", job_id)
    done = next(line for line in lines if line["message"].startswith(f"Separation {job_id} done"))
    assert done["job_id"] == job_id
    assert done["worker_id"] == job_of(track_id).claimed_by
    assert {line["node"] for line in lines if "node" in line} == {
        next(line["node"] for line in lines if "node" in line)
    }
    assert received["node"].startswith("jsonlog@")
