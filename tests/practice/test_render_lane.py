"""A render's own lane: in the embedded worker it gives way to a waiting song between its
pieces (back to the queue, made after the song), and it keeps to its budget of time and
memory (failed with a message saying which). Real worker, real Rubber Band."""

import numpy as np
import pytest

from jobs.runner import JobFailed, Outcome, job_run
from jobs.services import job_claim
from jobs.worker import Worker
from practice.kind import RENDER
from practice.models import Render
from practice.rendering import Budget
from separation.models import SeparationJob
from tests import fakes
from tests.factories import make_track

pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"HTTP_ACCEPT": "application/json"}


class SteppingClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=4.0)


def ask(client, track, **fields):
    from django.urls import reverse

    return client.post(reverse("practice:exports", args=[track.id]), fields, **JSON)


def test_a_render_gives_way_to_a_song_uploaded_while_it_runs_and_is_made_after_it(
    alice, alice_client, track, tmp_path
):
    render_id = ask(alice_client, track, tempo="0.5", format="wav").json()["id"]
    song = []

    def a_song_arrives_while_it_renders() -> bool:
        # Asked at the render's every heartbeat and progress write: the first time, a song
        # is uploaded (queued for separation).
        if not song and Render.objects.filter(id=render_id, status="running").exists():
            song.append(make_track(owner=alice, tmp_path=tmp_path, title="New song"))
        return False

    worker = Worker(
        worker_id="here:1:lane",
        should_stop=a_song_arrives_while_it_renders,
        wait=lambda seconds: None,
        poll_interval_s=0.1,
        housekeeping_every_s=3600,
        options={"separation": {"engine": fakes.FakeEngine()}},
    )
    outcomes = [worker.run_next(), worker.run_next(), worker.run_next()]
    assert outcomes == [Outcome.YIELDED, Outcome.DONE, Outcome.DONE]
    assert worker.run_next() is None

    render = Render.objects.get(id=render_id)
    separation = SeparationJob.objects.get(track=song[0])
    assert (render.status, separation.status) == ("done", "done")
    assert render.attempts == 1  # giving way is not an attempt
    assert render.started_at >= separation.finished_at  # made again after the song


def test_a_render_is_not_started_while_a_song_waits(alice, alice_client, track, tmp_path):
    render_id = ask(alice_client, track, tempo="0.8").json()["id"]
    song = make_track(owner=alice, tmp_path=tmp_path, title="Waiting song")
    worker = Worker(
        worker_id="here:1:lane",
        should_stop=lambda: False,
        wait=lambda seconds: None,
        poll_interval_s=0.1,
        housekeeping_every_s=3600,
        options={"separation": {"engine": fakes.FakeEngine()}},
    )
    assert worker.run_next() == Outcome.DONE
    assert SeparationJob.objects.get(track=song).status == "done"
    assert Render.objects.get(id=render_id).attempts == 0  # never claimed meanwhile
    assert worker.run_next() == Outcome.DONE
    assert Render.objects.get(id=render_id).status == "done"


def test_a_run_without_a_yield_hook_renders_through(alice_client, track):
    """Celery's renders (their own queue) never give way: job_process passes no hook."""
    render_id = ask(alice_client, track, tempo="0.9").json()["id"]
    claimed = job_claim(RENDER, job_id=render_id, worker_id="celery:1:w")
    assert job_run(RENDER, job=claimed, worker_id="celery:1:w") == Outcome.DONE


def test_a_render_over_its_time_budget_fails_with_a_message_saying_so(
    alice_client, track, settings
):
    render_id = ask(alice_client, track, tempo="0.5").json()["id"]
    settings.JAM_RENDER_MAX_SECONDS = 0  # spent before its first piece
    claimed = job_claim(RENDER, job_id=render_id, worker_id="here:1:budget")
    assert job_run(RENDER, job=claimed, worker_id="here:1:budget") == Outcome.FAILED
    render = Render.objects.get(id=render_id)
    assert render.status == "failed"
    assert render.error == (
        "This export took longer than an export may (0 seconds) and was stopped. Choose a "
        "faster tempo or fewer stems."
    )
    assert render.asset is None


def test_the_time_budget_is_spent_on_the_clock():
    budget = Budget(seconds=60, memory_bytes=1 << 30, clock=SteppingClock(step=40))
    budget.check()  # 40 s after it began
    with pytest.raises(JobFailed, match=r"took longer than an export may \(60 seconds\)"):
        budget.check()  # 80 s


def test_the_memory_budget_is_the_growth_of_the_workers_memory_since_the_render_began():
    budget = Budget(seconds=3600, memory_bytes=16 * 1024 * 1024)
    budget.check()
    held = np.ones(64 * 1024 * 1024 // 8)  # 64 MB, every page touched
    with pytest.raises(JobFailed, match=r"needed more memory than an export may \(16 MB\)"):
        budget.check()
    del held
