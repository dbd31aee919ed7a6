"""The scale-out mode with real Celery workers: separate processes started with the
documented command on queue `separation`, a real Redis broker (TEST_CELERY_BROKER_URL,
database 3 by default) and the test's own database (a file for SQLite) and media folder.

Nothing in the path under test is mocked: this process is the web process (uploads through
the view, sends with the project's Celery app), the workers are `celery -A jamwithme worker`.
Only the engine is a fake (SEPARATION_ENGINE_FACTORY, `tests.fakes.worker_engine`), so the
workers do not need the model.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from jamwithme.celery import app as celery_app
from separation.models import SeparationJob
from tests import fakes
from tests.separation.test_upload import post_file

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")
CLOSED_PORT_BROKER = "redis://127.0.0.1:9/3"  # nothing listens on the discard port
Status = SeparationJob.Status


def _redis():
    import redis

    return redis.Redis.from_url(BROKER, socket_connect_timeout=2)


@pytest.fixture
def broker():
    """The Redis broker, emptied of the separation queue; skipped when it is not there."""
    import redis

    client = _redis()
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the Redis broker at {BROKER}")
        pytest.skip(f"no Redis broker at {BROKER}")
    keys = ("separation", "celery", "unacked", "unacked_index", "unacked_mutex")
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()


def use_broker(url: str) -> None:
    """Point this (the web) process's Celery app at ``url`` and drop its open connections,
    as a web process started with that CELERY_BROKER_URL would. (kombu keeps its pools per
    broker address, so the app's handles on them are dropped, not the pools closed.)"""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


@pytest.fixture
def celery_mode(settings, broker):
    settings.CELERY_BROKER_URL = BROKER
    settings.SEPARATION_DISPATCH = "celery"
    use_broker(BROKER)
    yield
    use_broker(settings.CELERY_BROKER_URL)


def _database_env() -> dict:
    """Environment that points a worker at the test's database."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(db["NAME"])
        assert name.name == "db.sqlite3", "the celery tests need the file test database"
        return {"JAM_VAR_DIR": str(name.parent)}
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return {"DATABASE_URL": f"postgres://{auth}{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


@pytest.fixture
def start_worker(celery_mode, private_media, tmp_path):
    """Start `celery -A jamwithme worker -Q separation` processes; all are killed after."""
    workers = []

    def start(name: str, *, pool: str = "solo", hold: Path | None = None, sweep_every=1):
        env = {
            **os.environ,
            **_database_env(),
            "CELERY_BROKER_URL": BROKER,
            "MEDIA_ROOT": str(private_media),
            "JAM_SCRATCH_DIR": str(tmp_path / "scratch"),
            "SEPARATION_ENGINE_FACTORY": "tests.fakes.worker_engine",
            "SEPARATION_SWEEP_EVERY_S": str(sweep_every),
            "DEBUG": "false",
        }
        env.pop("FAKE_ENGINE_HOLD", None)
        if hold is not None:
            env["FAKE_ENGINE_HOLD"] = str(hold)
        log_path = tmp_path / f"{name}.log"
        log = log_path.open("w")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "jamwithme",
                "worker",
                "-Q",
                "separation",
                f"--pool={pool}",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process.log_path = log_path
        workers.append((process, log))
        wait_for(lambda: "ready." in log_path.read_text(), what=f"{name} to start", log=log_path)
        return process

    yield start
    for process, log in workers:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def wait_for(condition, *, what: str, timeout: float = 30, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{log.read_text()}" if log is not None and log.exists() else ""
            pytest.fail(f"timed out waiting for {what}{detail}")
        time.sleep(0.2)


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
    assert f"Could not send job {job_of(track_id).id} to the broker" in caplog.text
    job = job_of(track_id)
    assert (job.status, job.dispatched_at) == (Status.QUEUED, None)

    # The workers' sweep finds the job that was never sent and sends it.
    wait_for(lambda: job_of(track_id).status == Status.DONE, what="the job", log=worker.log_path)
    assert job_of(track_id).dispatched_at is not None
