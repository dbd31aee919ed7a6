"""Structured logs: LOG_FORMAT=json writes one JSON object per line, with the ids known."""

import io
import json
import logging
import os
import socket

import pytest

from jamwithme.logs import ContextFilter, JsonFormatter
from tests.factories import make_track
from tests.jamwithme.test_settings import load_settings


@pytest.fixture
def json_lines():
    """The root logger's lines, through the handler LOG_FORMAT=json configures."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.mark.django_db
def test_a_jobs_log_lines_are_json_with_its_job_track_and_worker(json_lines, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)

    worker = track.job.claimed_by
    assert worker.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    lines = json_lines()
    done = [line for line in lines if line["message"].startswith(f"Separation {track.job.id} done")]
    assert done == [
        {
            "time": done[0]["time"],
            "level": "INFO",
            "logger": "jobs.runner",
            "message": f"Separation {track.job.id} done by {worker}",
            "job_kind": "separation",
            "job_id": track.job.id,
            "track_id": str(track.id),
            "worker_id": worker,
        }
    ]
    assert done[0]["time"].endswith("+00:00")
    # Outside the run, lines carry no job.
    logging.getLogger("separation").info("Between jobs")
    assert "job_id" not in json_lines()[-1]


@pytest.mark.django_db
def test_a_requests_log_lines_carry_its_request_id(json_lines, client):
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    warning = [line for line in json_lines() if line["logger"] == "django.request"][-1]
    assert warning["request_id"] == "abc-123"
    assert warning["level"] == "WARNING"


@pytest.mark.django_db
def test_a_request_id_that_is_not_one_is_replaced(client):
    response = client.get("/health/", HTTP_X_REQUEST_ID="x" * 65)
    assert len(response["X-Request-ID"]) == 32


def test_exceptions_stay_inside_the_one_line(json_lines):
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("separation").exception("It broke")
    (line,) = json_lines()
    assert line["message"] == "It broke"
    assert "ValueError: bad" in line["exc_info"]


def test_log_format_json_is_what_the_settings_configure(tmp_path):
    result = load_settings(tmp_path, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    result = load_settings(tmp_path, LOG_FORMAT="yaml")
    assert "LOG_FORMAT must be one of plain, json" in result.stderr


async def test_an_async_request_gets_an_id_too(async_client):
    """Under ASGI the middleware runs on the event loop; the id is the same on the way out."""
    response = await async_client.get("/health/", headers={"X-Request-ID": "abc-123-def"})
    assert response["X-Request-ID"] == "abc-123-def"


@pytest.mark.django_db
def test_the_recovered_line_of_a_dead_workers_job_carries_the_job(json_lines, alice, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from jobs.services import job_claim, job_recover_orphans
    from separation.kind import SEPARATION
    from separation.models import SeparationJob

    track = make_track(owner=alice, tmp_path=tmp_path)
    job_claim(SEPARATION, job_id=track.job.id, worker_id="gone-host:1:dead")
    SeparationJob.objects.filter(id=track.job.id).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert job_recover_orphans(SEPARATION) == [track.job.id]
    (line,) = [line for line in json_lines() if line["message"].startswith("Recovered")]
    assert (line["job_kind"], line["job_id"]) == ("separation", track.job.id)
