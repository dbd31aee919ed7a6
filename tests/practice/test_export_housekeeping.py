"""Who sees, deletes and pays for exports: the owner sees and deletes every export of her
track, a bandmate withdraws from his own; whoever asks pays (the file counts in their storage,
and exports on the way hold room in their quota), so a bandmate never fills the owner's
library; per-user caps on exports on the way and kept; moderators export nothing; the list
shows only what the user may still hear; the endpoint reads form data only. Renders are made
by the real worker with the real Rubber Band."""

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from jobs.runner import job_run
from jobs.services import job_claim
from practice.dispatch import render_cost
from practice.kind import RENDER
from practice.models import Render
from tests.factories import make_band, make_track
from tracks import files
from tracks.models import Asset, FileDeletion, TrackShare
from tracks.selectors import storage_use_for_user
from tracks.sharing import track_share

# The worker calls close_old_connections(): these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=2.0)


@pytest.fixture
def band(alice, bob, track):
    """Bob jams on alice's track (without the vocals unless a test shares them)."""
    band = make_band(owner=alice, members=[bob])
    TrackShare.objects.create(track=track, band=band)
    return band


def ask(client, track, **fields):
    return client.post(reverse("practice:exports", args=[track.id]), fields, **JSON)


def delete_url(track, render_id):
    return reverse("practice:delete", args=[track.id, render_id])


def listed(client, track) -> list[int]:
    exports = client.get(reverse("practice:exports", args=[track.id])).json()["exports"]
    return [item["id"] for item in exports]


def page(client, track) -> str:
    return client.get(reverse("tracks:detail", args=[track.id])).content.decode()


def renditions_stored(track) -> list[str]:
    return [name for name in files.stored_in_folder(track.id) if "-render-" in name]


def work():
    call_command("separation_worker", "--once")


def test_the_owner_sees_a_bandmates_export_of_her_track_with_who_asked_and_deleting_it_frees_his_quota(  # noqa: E501
    alice, bob, alice_client, bob_client, track, band
):
    before = storage_use_for_user(user_id=alice.pk).used_bytes
    assert storage_use_for_user(user_id=bob.pk).used_bytes == 0
    render_id = ask(bob_client, track, tempo="0.9", format="wav").json()["id"]
    work()
    render = Render.objects.get(id=render_id)
    name = render.asset.name
    # Bob asked: it counts in his storage, not in the owner's.
    assert storage_use_for_user(user_id=alice.pk).used_bytes == before
    assert storage_use_for_user(user_id=bob.pk).used_bytes == render.asset.size_bytes

    exports = alice_client.get(reverse("practice:exports", args=[track.id])).json()["exports"]
    assert [(item["id"], item["asked_by"]) for item in exports] == [(render_id, ["bob"])]
    assert exports[0]["delete_url"] == delete_url(track, render_id)
    html = page(alice_client, track)
    assert f'data-render-id="{render_id}"' in html
    asked = render.created_at.strftime("%-d %b %Y, %H:%M")
    stamp = f'<time datetime="{render.created_at.isoformat()}">{asked}</time>'
    assert f"(asked for by bob {stamp})" in html
    assert delete_url(track, render_id) in html

    response = alice_client.post(delete_url(track, render_id))
    assert response.status_code == 302
    assert response["Location"] == reverse("tracks:detail", args=[track.id]) + "#exports"
    assert not Render.objects.exists()
    assert not Asset.objects.filter(kind=Asset.Kind.RENDITION).exists()
    assert not default_storage.exists(name)
    assert not FileDeletion.objects.exists()
    assert storage_use_for_user(user_id=alice.pk).used_bytes == before
    assert storage_use_for_user(user_id=bob.pk).used_bytes == 0
    status = reverse("practice:status", args=[track.id, render_id])
    assert bob_client.get(status).status_code == 404


def test_a_bandmate_deleting_his_export_only_withdraws_while_someone_else_still_wants_it(
    alice, alice_client, bob_client, track, band
):
    render_id = ask(alice_client, track, tempo="0.8", format="mp3").json()["id"]
    assert ask(bob_client, track, tempo="0.8", format="mp3").json()["id"] == render_id
    work()
    name = Render.objects.get(id=render_id).asset.name

    assert bob_client.post(delete_url(track, render_id), **JSON).status_code == 204
    render = Render.objects.get(id=render_id)
    assert list(render.requesters.all()) == [alice]
    assert default_storage.exists(name)
    assert listed(bob_client, track) == []
    assert f'data-render-id="{render_id}"' not in page(bob_client, track)
    assert listed(alice_client, track) == [render_id]
    # He is no longer one who asked for it: it is not his to delete again.
    assert bob_client.post(delete_url(track, render_id)).status_code == 404

    assert alice_client.post(delete_url(track, render_id)).status_code == 302
    assert not Render.objects.exists()
    assert not default_storage.exists(name)


def test_the_last_requester_withdrawing_deletes_the_export_and_its_file(
    alice, bob, bob_client, track, band
):
    render_id = ask(bob_client, track, semitones="-2", format="flac").json()["id"]
    work()
    name = Render.objects.get(id=render_id).asset.name
    assert renditions_stored(track) == [name]
    used = storage_use_for_user(user_id=bob.pk).used_bytes
    assert used > 0

    assert bob_client.post(delete_url(track, render_id)).status_code == 302
    assert not Render.objects.exists()
    assert not default_storage.exists(name)
    assert renditions_stored(track) == []
    assert storage_use_for_user(user_id=bob.pk).used_bytes == 0


def test_an_export_is_deleted_only_by_a_post_with_its_csrf_token_from_someone_who_may_see_it(
    alice, bob, alice_client, bob_client, track
):
    mine = ask(alice_client, track, tempo="1.1").json()["id"]
    url = delete_url(track, mine)
    assert bob_client.post(url).status_code == 404  # an outsider
    TrackShare.objects.create(track=track, band=make_band(owner=alice, members=[bob]))
    assert bob_client.post(url).status_code == 404  # a bandmate, not one who asked for it
    assert Client().post(url).status_code == 302  # to the sign-in page
    assert alice_client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(url).status_code == 403
    assert bob_client.post(delete_url(track, mine + 1000)).status_code == 404
    assert Render.objects.filter(id=mine).exists()


def test_deleting_an_export_while_the_worker_renders_it_leaves_no_file(alice_client, track):
    render_id = ask(alice_client, track, tempo="0.75", format="wav").json()["id"]
    worker_id = "test:1:render"
    claimed = job_claim(RENDER, job_id=render_id, worker_id=worker_id)
    assert claimed is not None
    deleted = []

    def owner_deletes_meanwhile() -> bool:
        if not deleted:
            deleted.append(alice_client.post(delete_url(track, render_id)).status_code)
        return False

    outcome = job_run(RENDER, job=claimed, worker_id=worker_id, should_stop=owner_deletes_meanwhile)
    assert deleted == [302]
    assert outcome == "lost"
    assert not Render.objects.exists()
    assert not Asset.objects.filter(kind=Asset.Kind.RENDITION).exists()
    assert renditions_stored(track) == []


def wav_size(track, *, tempo: int = 100) -> int:
    """What the quota holds for a WAV export of ``track`` of its jam track at ``tempo``."""
    return render_cost(track, stems=1, tempo=tempo, semitones=0, fmt="wav").size_bytes


def test_exports_on_the_way_hold_room_in_the_askers_quota(alice, alice_client, track, settings):
    used = storage_use_for_user(user_id=alice.pk).used_bytes
    wav = wav_size(track, tempo=99)
    settings.JAM_USER_QUOTA_BYTES = used + wav + wav // 2  # room for one WAV, not two

    first = ask(alice_client, track, format="wav", tempo="1.01")
    assert first.status_code == 202  # queued: nothing stored yet, but room held
    refused = ask(alice_client, track, format="wav", tempo="0.99")
    assert refused.status_code == 400
    assert "Your library has no room for this export" in refused.json()["error"]

    work()
    assert ask(alice_client, track, format="wav", tempo="0.99").status_code == 400
    assert alice_client.post(delete_url(track, first.json()["id"])).status_code == 302
    assert ask(alice_client, track, format="wav", tempo="0.99").status_code == 202
    assert Render.objects.count() == 1


def test_a_bandmate_filling_his_own_quota_leaves_the_owners_exports_working(
    alice, bob, alice_client, bob_client, track, band, settings
):
    """Bob's exports of alice's track count in his storage: once his quota is full he is
    refused, and alice, whose library has room for one export, still makes hers."""
    owner_used = storage_use_for_user(user_id=alice.pk).used_bytes
    wav = wav_size(track, tempo=90)
    settings.JAM_USER_QUOTA_BYTES = owner_used + wav + wav // 2
    settings.JAM_USER_MAX_ACTIVE_RENDERS = 10
    asked = [ask(bob_client, track, format="wav", tempo=f"0.{n}") for n in (91, 92, 93, 94)]
    work()
    made = [r for r in asked if r.status_code == 202]
    refused = [r.json()["error"] for r in asked if r.status_code == 400]
    assert len(made) >= 2  # his own library (empty) takes more than the owner's room
    assert refused, "his quota must fill up"
    assert all("Your library has no room for this export" in e for e in refused)
    assert storage_use_for_user(user_id=alice.pk).used_bytes == owner_used
    assert storage_use_for_user(user_id=bob.pk).used_bytes > wav

    mine = ask(alice_client, track, format="wav", tempo="0.9")
    assert mine.status_code == 202, mine.json()
    work()
    render = Render.objects.get(id=mine.json()["id"])
    assert render.status == Render.Status.DONE
    assert render.asset.charged_to_id == alice.pk


def test_when_the_one_who_paid_withdraws_someone_who_still_wants_it_pays(
    alice, bob, alice_client, bob_client, track, band
):
    render_id = ask(bob_client, track, tempo="0.8", format="mp3").json()["id"]
    assert ask(alice_client, track, tempo="0.8", format="mp3").json()["id"] == render_id
    work()
    size = Render.objects.get(id=render_id).asset.size_bytes
    alice_before = storage_use_for_user(user_id=alice.pk).used_bytes
    assert storage_use_for_user(user_id=bob.pk).used_bytes == size

    assert bob_client.post(delete_url(track, render_id), **JSON).status_code == 204
    assert storage_use_for_user(user_id=bob.pk).used_bytes == 0
    assert storage_use_for_user(user_id=alice.pk).used_bytes == alice_before + size
    assert Render.objects.get(id=render_id).charged_to_id == alice.pk


def test_a_user_may_keep_only_so_many_exports(alice_client, track, settings):
    settings.JAM_USER_MAX_STORED_RENDERS = 2
    settings.JAM_USER_MAX_ACTIVE_RENDERS = 10
    assert ask(alice_client, track, tempo="0.9").status_code == 202
    assert ask(alice_client, track, tempo="0.8").status_code == 202
    work()
    assert ask(alice_client, track, tempo="0.8").status_code == 200  # one she keeps: the file
    refused = ask(alice_client, track, tempo="0.7")
    assert refused.status_code == 400
    assert refused.json()["error"] == (
        "You keep 2 exports (the limit is 2). Delete some of your exports to ask for another."
    )
    first = Render.objects.get(tempo=90)
    assert alice_client.post(delete_url(track, first.id)).status_code == 302
    assert ask(alice_client, track, tempo="0.7").status_code == 202


def test_a_moderator_cannot_start_an_export_of_someone_elses_track(
    alice, moderator, track, settings
):
    client = Client()
    client.force_login(moderator)
    refused = ask(client, track, tempo="0.5", format="wav")
    assert refused.status_code == 403
    assert not Render.objects.exists()
    # A moderator who is also alice's bandmate exports what the band lets her.
    TrackShare.objects.create(track=track, band=make_band(owner=alice, members=[moderator]))
    assert ask(client, track, tempo="0.5", format="wav").status_code == 202
    with_vocals = ask(client, track, balance="0.5")
    assert with_vocals.status_code == 403  # the band shares the jam track only
    assert Render.objects.get().charged_to_id == moderator.pk


def test_an_export_that_would_take_longer_than_the_budget_is_refused_before_it_is_queued(
    alice_client, track, settings
):
    cost = render_cost(track, stems=1, tempo=50, semitones=0, fmt="wav")
    settings.JAM_RENDER_MAX_SECONDS = cost.work_s / 2
    refused = ask(alice_client, track, tempo="0.5", format="wav")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error.startswith("That export would take about "), error
    assert "to make; an export may take at most 0 seconds. Choose a faster tempo" in error
    assert not Render.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/octet-stream"]
)
def test_a_body_that_is_not_form_data_is_refused_with_415_and_makes_no_export(
    alice_client, track, content_type
):
    response = alice_client.post(
        reverse("practice:exports", args=[track.id]),
        '{"tempo": "0.8", "format": "mp3"}',
        content_type=content_type,
        **JSON,
    )
    assert response.status_code == 415
    assert "as form data" in response.json()["error"]
    assert not Render.objects.exists()


def test_the_exports_list_drops_an_export_the_bandmate_can_no_longer_hear(
    alice, alice_client, bob_client, track, band
):
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    with_vocals = ask(bob_client, track, balance="0.5").json()["id"]
    jam_only = ask(bob_client, track, balance="0").json()["id"]
    work()
    assert listed(bob_client, track) == [jam_only, with_vocals]

    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    assert listed(bob_client, track) == [jam_only]
    html = page(bob_client, track)
    assert f'data-render-id="{with_vocals}"' not in html
    assert f'data-render-id="{jam_only}"' in html
    assert bob_client.post(delete_url(track, with_vocals)).status_code == 404
    # The owner still sees it (it is in her storage) and may delete it.
    assert listed(alice_client, track) == [jam_only, with_vocals]


def test_the_export_service_itself_refuses_a_bands_viewer(alice, bob, track):
    """Not only the view: a viewer's access reaching `export_request` queues nothing."""
    from practice.dispatch import ExportForbidden, export_request, export_settings_parse
    from tracks.access import track_access

    band = make_band(owner=alice)
    band.memberships.create(user=bob, role="viewer")
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    access = track_access(bob, track)
    assert access.can_play and not access.can_export
    with pytest.raises(ExportForbidden, match="not export it"):
        export_request(track=track, access=access, user=bob, wanted=export_settings_parse())
    assert not Render.objects.exists()
