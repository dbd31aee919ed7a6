from django.urls import reverse

from separation.models import SeparationJob
from tests.factories import make_track

Status = SeparationJob.Status


def test_the_owner_cancels_a_queued_job_and_then_retries_it(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(reverse("separation:cancel", args=[track.id]))
    assert response["Location"] == reverse("tracks:detail", args=[track.id])
    track.job.refresh_from_db()
    assert track.job.status == Status.CANCELLED
    alice_client.post(reverse("separation:retry", args=[track.id]))
    track.job.refresh_from_db()
    assert track.job.status == Status.QUEUED


def test_retrying_a_queued_job_says_it_cannot(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(reverse("separation:retry", args=[track.id]), follow=True)
    assert "Only a failed or cancelled separation can be retried." in response.content.decode()


def test_it_returns_to_a_safe_next_url_only(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    response = alice_client.post(
        reverse("separation:cancel", args=[track.id]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("tracks:detail", args=[track.id])
    alice_client.post(reverse("separation:retry", args=[track.id]))
    response = alice_client.post(
        reverse("separation:cancel", args=[track.id]), {"next": "/?page=2"}
    )
    assert response["Location"] == "/?page=2"


def test_cancel_and_retry_need_post(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    assert alice_client.get(reverse("separation:cancel", args=[track.id])).status_code == 405
    assert alice_client.get(reverse("separation:retry", args=[track.id])).status_code == 405


def test_the_owner_cancels_a_running_job_from_the_page_that_offered_cancel(
    alice_client, alice, tmp_path
):
    from jobs.services import job_claim
    from separation.kind import SEPARATION

    track = make_track(owner=alice, tmp_path=tmp_path)
    job_claim(SEPARATION, job_id=track.job.id, worker_id="w")
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("separation:cancel", args=[track.id]) in page
    response = alice_client.post(reverse("separation:cancel", args=[track.id]), follow=True)
    assert "Separation of “Song” cancelled." in response.content.decode()
    track.job.refresh_from_db()
    assert track.job.status == Status.CANCELLED


def test_a_finished_job_is_not_offered_cancel_and_cannot_be_cancelled(
    alice_client, alice, tmp_path
):
    from jobs.runner import job_process
    from separation.kind import SEPARATION
    from tests import fakes

    track = make_track(owner=alice, tmp_path=tmp_path)
    job_process(SEPARATION, job_id=track.job.id, engine=fakes.FakeEngine())
    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert reverse("separation:cancel", args=[track.id]) not in page
    response = alice_client.post(reverse("separation:cancel", args=[track.id]), follow=True)
    assert "Only a queued or running separation can be cancelled." in response.content.decode()
