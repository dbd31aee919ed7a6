"""The fair queue with a real Celery worker (`celery -A jamwithme worker`, a real Redis
broker): messages are sent first in, first out, but each runs the fairest waiting job, so a
single song queued behind another user's batch is the second one run, and every job runs
once. The fixtures are conftest.py's; the engine is the fake one."""

import pytest

from separation.models import SeparationJob
from tests.separation.test_celery_mode import upload
from tests.separation.workers import wait_for

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]
Status = SeparationJob.Status


def test_a_single_song_behind_another_users_batch_runs_second_with_one_worker(
    alice_client, bob_client, start_worker, broker, tmp_path
):
    batch = [upload(alice_client, tmp_path) for _ in range(4)]
    single = upload(bob_client, tmp_path)
    assert broker.llen("separation") == 5  # one message each, in the order sent

    worker = start_worker("fair")
    everything = SeparationJob.objects.filter(track_id__in=[*batch, single])
    wait_for(
        lambda: everything.filter(status=Status.DONE).count() == 5,
        what="the five jobs",
        log=worker.log_path,
    )
    order = list(everything.order_by("started_at").values_list("track_id", "attempts"))
    assert [track for track, _ in order][:2] == [batch[0], single]
    assert {attempts for _, attempts in order} == {1}  # each ran once
