"""Helpers for the tests that run real Celery workers (fixtures in conftest.py): the Redis
broker (TEST_CELERY_BROKER_URL, database 3 by default), pointing this (the web) process at a
broker, the environment that points a worker at the test's database, and waiting."""

import os
import time
from pathlib import Path

import pytest
from django.db import connection

from jamwithme.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/3")


def redis_client():
    import redis

    return redis.Redis.from_url(BROKER, socket_connect_timeout=2)


def use_broker(url: str) -> None:
    """Point this (the web) process's Celery app at ``url`` and drop its open connections,
    as a web process started with that CELERY_BROKER_URL would. (kombu keeps its pools per
    broker address, so the app's handles on them are dropped, not the pools closed.)"""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.broker_url = url


def database_env() -> dict:
    """Environment that points a worker at the test's database."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = Path(db["NAME"])
        assert name.name == "db.sqlite3", "the celery tests need the file test database"
        return {"JAM_VAR_DIR": str(name.parent)}
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db["PASSWORD"] else f"{db['USER']}@"
    return {"DATABASE_URL": f"postgres://{auth}{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"}


def wait_for(condition, *, what: str, timeout: float = 30, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{log.read_text()}" if log is not None and log.exists() else ""
            pytest.fail(f"timed out waiting for {what}{detail}")
        time.sleep(0.2)
