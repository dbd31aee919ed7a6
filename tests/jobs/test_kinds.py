"""A kind of job is one module plus its registration: a kind declared here, in a test module,
runs through the one runner and worker with its own work, phases and events, and nothing
in jobs/ knows of it."""

import pytest

from jobs import kinds
from jobs.kinds import JobKind
from jobs.runner import JobFailed, Made, Outcome, job_process
from jobs.services import job_dispatch_on_commit
from practice.models import Render
from tests.factories import make_track

pytestmark = pytest.mark.django_db

published: list[int] = []
seen: list[dict] = []


def echo_work(job: Render, run, *, fail: bool = False) -> Made:
    """Reports both phases, leaves a file in its scratch folder, and asks for a field to be
    set with "done"."""
    seen.append({"scratch": run.scratch.is_dir(), "phase": run.current})
    (run.scratch / "echo.txt").write_text("echo")
    run.phase("listening")(1.0)
    if fail:
        raise JobFailed("Nothing came back.")
    run.phase("answering")(0.5)
    return Made(record=lambda: {"error": "recorded with done"})


ECHO = JobKind(
    name="echo",
    model=Render,  # a table that exists; a real kind brings its own model
    work="tests.jobs.test_kinds.echo_work",
    publish=published.append,
    task="tests.echo_task",
    phases={"listening": (0, 50), "answering": (50, 99)},
    doing="echoing this track",
    settings_prefix="RENDER",
)


@pytest.fixture
def echo(monkeypatch, alice, tmp_path):
    monkeypatch.setitem(kinds._KINDS, ECHO.name, ECHO)
    published.clear()
    seen.clear()
    track = make_track(owner=alice, tmp_path=tmp_path)
    return Render.objects.create(track=track, tempo=95)


def test_a_kind_registered_outside_jobs_runs_its_work_through_the_one_runner(echo):
    assert kinds.get("echo") is ECHO
    assert job_process("echo", job_id=echo.id, worker_id="w") == Outcome.DONE
    echo.refresh_from_db()
    assert (echo.status, echo.progress, echo.phase) == ("done", 100, "")
    assert echo.error == "recorded with done"  # Made.record's fields, set with "done"
    assert seen == [{"scratch": True, "phase": "listening"}]  # claimed in its first phase
    assert published.count(echo.id) >= 4  # claimed, each phase, done


def test_a_kinds_bad_job_fails_with_the_reason_its_work_gave(echo):
    from jobs.runner import job_run
    from jobs.services import job_claim

    claimed = job_claim("echo", job_id=echo.id, worker_id="w")
    assert job_run("echo", job=claimed, worker_id="w", fail=True) == Outcome.FAILED
    echo.refresh_from_db()
    assert (echo.status, echo.error) == ("failed", "Nothing came back.")


def test_a_kinds_messages_and_settings_follow_from_its_row(settings):
    settings.RENDER_QUEUE = "echoes"
    assert ECHO.queue == "echoes"
    assert ECHO.max_attempts == settings.RENDER_MAX_ATTEMPTS
    assert (
        ECHO.generic_failure == "Something went wrong while echoing this track. Please try again."
    )
    assert (
        ECHO.over_time_limit(2.5) == "Echoing this track took longer than the limit (2.5 minutes)."
    )


def test_a_kinds_job_is_sent_only_once_its_row_is_committed(
    echo, django_capture_on_commit_callbacks, sent_messages
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job_dispatch_on_commit("echo", job_id=echo.id)
        assert sent_messages == []
    assert len(callbacks) == 1
    assert sent_messages == [("tests.echo_task", (echo.id,), "renders")]
    assert published == [echo.id]
