"""Claims take turns across users (`jobs.state.fair_order`): one user's batch cannot hold
another user's single song back by more than one job per worker — in the embedded worker's
claims and in the scale-out mode, where each message runs the fairest waiting job rather
than necessarily its own."""

import pytest
from django.contrib.auth.models import User

from jobs import kinds, state
from jobs.runner import Outcome, job_process, job_run
from jobs.services import job_claim_next, job_dispatch_on_commit
from practice.models import Render
from tests.jobs.test_kinds import ECHO
from tracks.models import Track

pytestmark = pytest.mark.django_db


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(kinds._KINDS, ECHO.name, ECHO)
    return ECHO


@pytest.fixture
def batch(alice, bob, db):
    """Alice queues 10 songs, then bob and carol one each: {job id: owner's name}."""
    carol = User.objects.create_user("carol", "carol@example.com", "x")
    owners = [alice] * 10 + [bob, carol]
    jobs = {}
    for n, owner in enumerate(owners):
        track = Track.objects.create(owner=owner, title=f"Song {n}")
        jobs[Render.objects.create(track=track).pk] = owner.username
    return jobs


def test_a_single_song_is_claimed_within_the_first_three_claims_behind_a_batch(echo, batch):
    claimed = [job_claim_next("echo", worker_id=f"w{n}") for n in range(3)]  # three workers
    assert [batch[job.pk] for job in claimed] == ["alice", "bob", "carol"]


def test_one_worker_takes_turns_across_users_and_then_finishes_the_batch(echo, batch):
    order = []
    while (job := job_claim_next("echo", worker_id="w")) is not None:
        assert job_run("echo", job=job, worker_id="w") == Outcome.DONE
        order.append(batch[job.pk])
    assert order == ["alice", "bob", "carol"] + ["alice"] * 9


def test_each_message_runs_the_fairest_waiting_job_and_every_job_runs_once(
    echo, batch, django_capture_on_commit_callbacks, sent_messages
):
    with django_capture_on_commit_callbacks(execute=True):
        for job_id in batch:
            job_dispatch_on_commit("echo", job_id=job_id)
    messages = [args[0] for _, args, _ in sent_messages]
    assert messages == list(batch)  # sent first in, first out
    ran = []
    for job_id in messages:  # delivered in that order, one worker
        done_before = set(Render.objects.filter(status="done").values_list("pk", flat=True))
        assert job_process("echo", job_id=job_id, worker_id="w") == Outcome.DONE
        done = set(Render.objects.filter(status="done").values_list("pk", flat=True))
        ran.extend(done - done_before)
    assert [batch[pk] for pk in ran[:3]] == ["alice", "bob", "carol"]
    assert sorted(ran) == sorted(batch)  # each exactly once
    assert job_process("echo", job_id=messages[0], worker_id="w") is None  # a duplicate: nothing


def test_a_user_with_a_job_running_waits_behind_users_with_none(echo, batch, alice):
    first_alice = next(pk for pk, who in batch.items() if who == "alice")
    assert state.claim(Render, pk=first_alice, worker_id="elsewhere")
    order = state.fair_order(Render, owner="track__owner")
    assert [batch[pk] for pk in order[:3]] == ["bob", "carol", "alice"]


def test_without_an_owner_the_queue_is_first_in_first_out(batch):
    assert state.fair_order(Render, owner=None) == list(batch)
