"""Faults in the scale-out mode, with real processes: a Celery worker killed part-way through
a batch, the Redis of the channel layer restarted, the database connections of a worker
dropped. Workers and fixtures as in test_celery_mode.py (conftest.py); the Redis restarted
is this test's own `redis-server` on a free port."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from catalog.stems import STEMS
from notifications.events import publish, user_group
from separation.models import SeparationJob
from tests import fakes
from tests.notifications.test_consumers import message_for, session_cookie
from tests.notifications.test_consumers import socket as notification_socket
from tests.ports import free_port
from tests.separation.test_upload import post_file
from tests.separation.workers import wait_for
from tracks.models import Asset

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
Status = SeparationJob.Status
REDIS_SERVER = "/usr/bin/redis-server"


def upload(client, song: Path, title: str) -> int:
    response = post_file(client, song, title=title, HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content
    return SeparationJob.objects.latest("id").track_id


def claimer_pid(job: SeparationJob) -> int:
    return int(job.claimed_by.split(":")[1])


# --- A worker killed part-way through a batch -----------------------------------------------
def test_a_batch_survives_a_worker_killed_part_way_each_job_done_once(
    alice_client, start_worker, private_media, tmp_path
):
    halfway = tmp_path / "halfway"
    # The doomed worker separates two songs, then stops halfway through its third.
    doomed = start_worker("doomed", hold=halfway, env={"FAKE_ENGINE_HOLD_AFTER": "2"})
    survivor = start_worker("survivor")
    song = fakes.write_wav(tmp_path / "song.wav", seconds=0.5)
    track_ids = [upload(alice_client, song, f"Song {n}") for n in range(30)]

    wait_for(halfway.exists, what="the doomed worker to be mid-job", log=doomed.log_path)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()

    jobs = SeparationJob.objects.filter(track_id__in=track_ids)
    wait_for(
        lambda: jobs.filter(status=Status.DONE).count() == 30,
        what="all 30 jobs",
        timeout=90,
        log=survivor.log_path,
    )
    jobs = list(jobs)
    assert {(job.status, job.progress, job.error) for job in jobs} == {(Status.DONE, 100, "")}
    by_doomed = [job for job in jobs if claimer_pid(job) == doomed.pid]
    taken_over = [job for job in jobs if job.attempts == 2]
    # Two finished by the doomed worker, the one it died in finished by the survivor on a
    # second attempt, every other job in one attempt.
    assert len(by_doomed) == 2
    assert len(taken_over) == 1 and claimer_pid(taken_over[0]) == survivor.pid
    assert sorted(job.attempts for job in jobs) == [1] * 29 + [2]

    # Exactly one set of stems per track, and no file in media without its row.
    stems = sorted(stem.name for stem in STEMS)
    assets = Asset.objects.filter(track_id__in=track_ids)
    for track_id in track_ids:
        names = assets.filter(track_id=track_id, kind="stem").values_list("stem", flat=True)
        assert sorted(names) == stems
    stored = {
        path.relative_to(private_media).as_posix()
        for path in private_media.rglob("*")
        if path.is_file()
    }
    assert stored == set(Asset.objects.values_list("name", flat=True))


# --- The channel layer's Redis restarted ----------------------------------------------------
class OwnRedis:
    """A `redis-server` of this test only, without persistence, stopped and started again
    on the same port."""

    def __init__(self, folder: Path):
        self.port = free_port()  # redis-server cannot be handed a socket
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = folder / "redis.log"
        self.process = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--logfile", str(self.log_path)),
            ],
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return client.ping()
            except redis.exceptions.ConnectionError:
                return False

        wait_for(answers, what="redis-server to start", timeout=10, log=self.log_path)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(settings, tmp_path):
    if not os.path.exists(REDIS_SERVER):
        pytest.skip(f"needs {REDIS_SERVER}")
    server = OwnRedis(tmp_path)
    server.start()
    # Setting CHANNEL_LAYERS drops the process's cached layer (channels.layers resets on
    # setting_changed), here and again when the setting is restored.
    layers = dict(settings.CHANNEL_LAYERS)
    layers["default"] = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [{"address": server.url, "socket_timeout": 15}]},
    }
    settings.CHANNEL_LAYERS = layers
    settings.NOTIFICATIONS_RELAY_FROM_DB = False  # events only through the channel layer
    yield server
    server.stop()


async def _event_reaches_a_new_socket(cookie: str, user_id: int, key: str) -> dict:
    communicator = notification_socket(cookie)
    assert (await communicator.connect(timeout=5))[0]
    try:
        await get_channel_layer().group_send(user_group(user_id), message_for([user_id], key=key))
        return await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()


def test_with_the_channel_layers_redis_restarted_pages_serve_and_events_resume(
    alice, alice_client, own_redis, tmp_path
):
    cookie = session_cookie(alice)
    before = async_to_sync(_event_reaches_a_new_socket)(cookie, alice.id, "ping.before")
    assert before["key"] == "ping.before"

    own_redis.stop()
    # Pages serve; an upload, which publishes its job's event, still answers 201.
    assert alice_client.get("/").status_code == 200
    song = fakes.write_wav(tmp_path / "song.wav", seconds=0.5)
    track_id = upload(alice_client, song, "While Redis is away")
    assert SeparationJob.objects.get(track_id=track_id).status == Status.QUEUED
    publish({"type": "test.ping", "audience": [alice.id], "key": "ping.lost"})  # no raise
    health = alice_client.get("/health/")  # degraded, not dead: pages still serve
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["channel_layer"] in ("error", "timeout")

    own_redis.start()  # same port, empty: the browser's socket reconnects
    after = async_to_sync(_event_reaches_a_new_socket)(cookie, alice.id, "ping.after")
    assert after["key"] == "ping.after"
    assert alice_client.get("/health/").status_code == 200


# --- The database connections of a worker dropped -------------------------------------------
def test_a_worker_whose_database_connections_were_dropped_does_the_next_job(
    alice_client, start_worker, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): SQLite has no server to drop connections")
    worker = start_worker("one", sweep_every=600)  # no sweep after the one at start
    song = fakes.write_wav(tmp_path / "song.wav", seconds=0.5)
    first = upload(alice_client, song, "First")
    wait_for(
        lambda: SeparationJob.objects.get(track_id=first).status == Status.DONE,
        what="the first job",
        log=worker.log_path,
    )

    # Celery's Django fixup closes the worker's connections around each task, so between
    # jobs it may hold none; whatever it does hold (the sweep's), the server ends under it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        cursor.fetchall()

    second = upload(alice_client, song, "Second")
    wait_for(
        lambda: SeparationJob.objects.get(track_id=second).status == Status.DONE,
        what="the job after the connections were dropped",
        log=worker.log_path,
    )
    job = SeparationJob.objects.get(track_id=second)
    assert (job.attempts, job.error) == (1, "")


def test_a_worker_whose_database_connections_were_dropped_mid_job_finishes_it(
    alice_client, start_worker, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (DATABASE_URL): SQLite has no server to drop connections")
    halfway, release = tmp_path / "halfway", tmp_path / "release"
    worker = start_worker(
        "one", hold=halfway, sweep_every=600, env={"FAKE_ENGINE_RELEASE": str(release)}
    )
    song = fakes.write_wav(tmp_path / "song.wav", seconds=0.5)
    track_id = upload(alice_client, song, "Song")
    wait_for(halfway.exists, what="the worker to be mid-job", log=worker.log_path)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "the worker held no connection to drop"
    release.touch()

    wait_for(
        lambda: SeparationJob.objects.get(track_id=track_id).status == Status.DONE,
        what="the job whose connections were dropped",
        timeout=10,
    )
