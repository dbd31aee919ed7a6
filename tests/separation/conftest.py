"""Fixtures for the tests that run real `celery -A jamwithme worker` processes (the
`celery` marker): the broker, the scale-out mode in this process, and the workers."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.separation.workers import BROKER, ROOT, database_env, redis_client, use_broker, wait_for


@pytest.fixture
def broker():
    """The Redis broker, emptied of the separation queue; skipped when it is not there."""
    import redis

    client = redis_client()
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs the Redis broker at {BROKER}")
        pytest.skip(f"no Redis broker at {BROKER}")
    keys = ("separation", "separation-gpu", "renders", "celery")
    keys += ("unacked", "unacked_index", "unacked_mutex")
    client.delete(*keys)
    yield client
    client.delete(*keys)
    client.close()


@pytest.fixture
def celery_mode(settings, broker):
    settings.CELERY_BROKER_URL = BROKER
    settings.SEPARATION_DISPATCH = "celery"
    use_broker(BROKER)
    yield
    use_broker(settings.CELERY_BROKER_URL)


@pytest.fixture
def start_worker(celery_mode, private_media, tmp_path):
    """Start `celery -A jamwithme worker -Q separation` processes; all are killed after.
    ``env`` adds to (or overrides) the worker's environment."""
    workers = []

    def start(
        name: str,
        *,
        pool: str = "solo",
        hold: Path | None = None,
        sweep_every=1,
        env: dict | None = None,
        queues: str = "separation",
        concurrency: int = 1,
    ):
        full_env = {
            **os.environ,
            **database_env(),
            "CELERY_BROKER_URL": BROKER,
            "MEDIA_ROOT": str(private_media),
            "JAM_SCRATCH_DIR": str(tmp_path / "scratch"),
            "SEPARATION_ENGINE_FACTORY": "tests.fakes.worker_engine",
            "SEPARATION_SWEEP_EVERY_S": str(sweep_every),
            "DEBUG": "false",
        }
        full_env.pop("FAKE_ENGINE_HOLD", None)
        if hold is not None:
            full_env["FAKE_ENGINE_HOLD"] = str(hold)
        full_env.update(env or {})
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
                queues,
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env=full_env,
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
