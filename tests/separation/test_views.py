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
