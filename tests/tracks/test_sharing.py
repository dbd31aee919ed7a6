"""Sharing a track with bands and by link: who may then hear what, and who hears about it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from bands.models import Membership
from tests.factories import make_band, make_track
from tracks.access import Access, link_access, track_access, track_audience, tracks_heard_by
from tracks.parts import track_parts
from tracks.sharing import (
    SharingError,
    share_link_create,
    share_link_find,
    share_link_revoke,
    track_share,
    track_share_many,
)


@pytest.fixture
def carol(db, password):
    return User.objects.create_user("carol", "carol@example.com", password)


@pytest.fixture
def band(alice, bob):
    return make_band(owner=alice, name="The Cats", members=[bob])


@pytest.fixture
def track(alice, tmp_path, fake_engine):
    return make_track(owner=alice, tmp_path=tmp_path, title="Blue Bossa", separated=True)


def test_a_bandmate_hears_only_the_jam_track_until_the_owner_allows_the_vocals(
    alice, bob, band, track
):
    assert track_access(bob, track) == Access.NONE
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    access = track_access(bob, track)
    assert access == Access.JAM
    assert access.can_hear("instrumental") and not access.can_hear("vocals")
    assert not access.can_hear("original") and not access.can_manage

    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    track.refresh_from_db()
    assert track_access(bob, track).can_hear("vocals")


def test_unsharing_and_leaving_the_band_end_access_at_once(alice, bob, band, track):
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    track_share(track=track, by=alice, band_ids=[], scope="jam")
    assert track_access(bob, track) == Access.NONE
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    Membership.objects.filter(band=band, user=bob).delete()
    assert track_access(bob, track) == Access.NONE


def test_only_the_owner_shares_and_only_with_their_own_bands(alice, bob, carol, band, track):
    other = make_band(owner=carol, name="Not Alice's")
    with pytest.raises(SharingError, match="bands you are in"):
        track_share(track=track, by=alice, band_ids=[other.id], scope="jam")
    with pytest.raises(SharingError, match="Only the owner"):
        track_share(track=track, by=bob, band_ids=[band.id], scope="jam")
    assert not track.shares.exists()


def test_the_audience_and_the_shared_library_follow_the_shares(alice, bob, carol, band, track):
    assert track_audience(track) == [alice.id]
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    assert track_audience(track) == sorted([alice.id, bob.id])
    assert list(tracks_heard_by(user_id=bob.id)) == [track]
    assert list(tracks_heard_by(user_id=carol.id)) == []


def test_a_hidden_track_or_a_suspended_owner_stops_every_share(alice, bob, band, track):
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    track.hidden_at = timezone.now()
    track.save()
    assert track_access(bob, track) == Access.NONE
    assert track_access(alice, track) == Access.MANAGE  # the owner still sees it
    assert track_audience(track) == [alice.id]
    track.hidden_at = None
    track.save()
    alice.is_active = False
    alice.save()
    track.refresh_from_db()
    assert track_access(bob, track) == Access.NONE
    assert list(tracks_heard_by(user_id=bob.id)) == []


def test_bulk_sharing_adds_the_band_to_each_track_once(alice, bob, band, tmp_path):
    tracks = [make_track(owner=alice, tmp_path=tmp_path, title=f"T{n}") for n in range(3)]
    assert track_share_many(tracks=tracks[:2], by=alice, band_id=band.id) == 2
    assert track_share_many(tracks=tracks, by=alice, band_id=band.id) == 1
    assert all(track_access(bob, track) == Access.JAM for track in tracks)


def test_a_share_link_opens_the_jam_track_until_revoked_or_expired(alice, bob, track):
    link, token = share_link_create(track=track, by=alice, expires_in_days=7)
    assert link.token_hash != token and token not in link.token_hash
    assert share_link_find(token) == link
    assert link_access(link) == Access.JAM
    assert share_link_find(token + "x") is None

    link.expires_at = timezone.now() - timedelta(seconds=1)
    link.save()
    assert link_access(share_link_find(token)) == Access.NONE

    again, token2 = share_link_create(track=track, by=alice, expires_in_days=None)
    share_link_revoke(link=again, by=alice)
    assert link_access(share_link_find(token2)) == Access.NONE
    with pytest.raises(SharingError):
        share_link_create(track=track, by=bob, expires_in_days=1)


@pytest.mark.django_db(transaction=True)
def test_leaving_the_band_tells_the_open_pages_the_track_is_gone(
    in_memory_layer, alice, bob, band, track
):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from bands.services import band_leave
    from notifications.events import user_group
    from tests.sentinels import layer_heard_before_a_sentinel

    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(bob.id), channel)

    band_leave(band=band, user=bob)

    heard = async_to_sync(layer_heard_before_a_sentinel)(layer, channel)
    revoked = [m["event"] for m in heard if m["event"].get("type") == "tracks.revoked"]
    assert [(e["revoked_track_id"], e["audience"]) for e in revoked] == [(str(track.id), [bob.id])]


def test_a_download_in_progress_stops_when_the_track_is_unshared(
    alice, bob, band, tmp_path, fake_engine, monkeypatch
):
    from django.test import Client
    from django.urls import reverse

    from tracks import media

    monkeypatch.setattr(media, "CHUNK", 1024)
    monkeypatch.setattr(media, "ACCESS_RECHECK_S", 0.0)  # ask again before every chunk
    long_track = make_track(owner=alice, tmp_path=tmp_path, seconds=3.0, separated=True)
    track_share(track=long_track, by=alice, band_ids=[band.id], scope="jam")
    client = Client()
    client.force_login(bob)

    response = client.get(reverse("tracks:download", args=[long_track.id, "instrumental"]))
    chunks = iter(response.streaming_content)
    received = len(next(chunks)) + len(next(chunks))
    track_share(track=long_track, by=alice, band_ids=[], scope="jam")
    received += sum(len(chunk) for chunk in chunks)

    assert received == 2048 < int(response["Content-Length"])


def test_the_shared_library_takes_as_many_queries_for_eight_tracks_as_for_two(
    alice, bob, band, tmp_path, fake_engine
):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client = Client()
    client.force_login(bob)

    def queries_with(count: int) -> int:
        for n in range(count):
            shared = make_track(owner=alice, tmp_path=tmp_path, title=f"Song {count}-{n}")
            track_share(track=shared, by=alice, band_ids=[band.id], scope="jam")
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("tracks:shared")).status_code == 200
        return len(captured.captured_queries)

    assert queries_with(2) == queries_with(6)  # 8 tracks on the page the second time


def test_bulk_sharing_with_a_band_that_is_no_uuid_is_refused_politely(alice_client, alice, track):
    from django.urls import reverse

    make_band(owner=alice, name="Solo")
    response = alice_client.post(
        reverse("tracks:share_bulk"), {"track": [str(track.id)], "band": "nope"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == ["Choose a band."]


@pytest.mark.parametrize("posted", ["-1", "abc", "0", "3", "7.5", " 7", "07", "\u0661", None])
def test_a_link_lifetime_the_page_does_not_offer_is_refused_and_makes_no_link(
    alice_client, track, posted
):
    from django.urls import reverse

    from tracks.models import ShareLink

    fields = {} if posted is None else {"expires_in_days": posted}
    response = alice_client.post(
        reverse("tracks:link_create", args=[track.id]), fields, follow=True
    )

    assert [str(m) for m in response.context["messages"]] == ["Choose how long the link lasts."]
    assert not ShareLink.objects.exists()


@pytest.mark.parametrize(("posted", "days"), [("1", 1), ("7", 7), ("30", 30), ("", None)])
def test_each_link_lifetime_the_page_offers_makes_a_link_that_lasts_that_long(
    alice_client, track, posted, days
):
    from django.urls import reverse

    from tracks.models import ShareLink

    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert f'<option value="{posted}"' in page
    before = timezone.now()
    alice_client.post(reverse("tracks:link_create", args=[track.id]), {"expires_in_days": posted})

    link = ShareLink.objects.get()
    if days is None:
        assert link.expires_at is None
    else:
        assert (
            before + timedelta(days=days)
            <= link.expires_at
            <= timezone.now() + timedelta(days=days)
        )


# What the track page tells its owner a share link gives, and what a link then serves:
# (the sentence, the parts it plays, the parts it downloads), by scope.
LINK_GIVES = {
    "jam": (
        "Anyone with the link can play and download the jam track, nothing else.",
        {"instrumental"},
        {"instrumental"},
    ),
    "all": (
        "Anyone with the link can play and download the jam track and the vocals, and play "
        "the original (not download it); nothing else.",
        {"instrumental", "vocals", "original"},
        {"instrumental", "vocals"},
    ),
}


@pytest.mark.parametrize("scope", ["jam", "all"])
def test_the_track_page_says_exactly_what_a_share_link_plays_and_downloads(
    alice, alice_client, band, track, scope
):
    from django.test import Client
    from django.urls import reverse

    anyone = Client()
    _, token = share_link_create(track=track, by=alice, expires_in_days=None, scope=scope)
    sentence, plays, downloads = LINK_GIVES[scope]

    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert sentence in page
    # The link's own scope: the bands' choice does not widen it.
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")

    def served(view: str) -> set[str]:
        names = [part.name for part in track_parts(track)]
        assert sorted(names) == ["instrumental", "original", "vocals"]
        urls = {name: reverse(f"tracks:{view}", args=[token, name]) for name in names}
        statuses = {name: anyone.get(url).status_code for name, url in urls.items()}
        assert set(statuses.values()) <= {200, 404}, statuses
        return {name for name, status in statuses.items() if status == 200}

    assert served("link_audio") == plays
    assert served("link_download") == downloads


def test_a_bandmate_in_two_bands_with_different_scopes_hears_the_union(
    alice, bob, carol, band, track
):
    other = make_band(owner=alice, name="The Dogs", members=[bob, carol])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    assert track_share_many(tracks=[track], by=alice, band_id=other.id, scope="all") == 1

    assert dict(track.shares.values_list("band_id", "scope")) == {band.id: "jam", other.id: "all"}
    assert track_access(bob, track) == Access.LISTEN  # the jam track, and every part
    assert track_access(carol, track) == Access.LISTEN
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    assert track_access(bob, track) == Access.JAM
    assert track_access(carol, track) == Access.NONE


@pytest.fixture
def guide_scope(monkeypatch):
    """A third scope, registered for one test only: the jam track and the vocals, not the
    original (which holds the vocals too, in the full mix)."""
    from catalog import shares

    scope = shares.ShareScope(
        "guide", "play and download the jam track and the vocals", ("instrumental", "vocals")
    )
    monkeypatch.setattr(shares, "SHARE_SCOPES", (*shares.SHARE_SCOPES, scope))
    return scope


def test_a_scope_registered_as_one_row_is_offered_and_honoured_with_no_other_change(
    alice, bob, alice_client, band, track, guide_scope
):
    from django.test import Client
    from django.urls import reverse

    page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert 'value="guide"' in page and "Play and download the jam track and the vocals" in page

    alice_client.post(
        reverse("tracks:share", args=[track.id]), {"band": [str(band.id)], "scope": "guide"}
    )
    access = track_access(bob, track)
    assert [part for part in ("original", "instrumental", "vocals") if access.can_hear(part)] == [
        "instrumental",
        "vocals",
    ]
    assert access.can_download and not access.hears_all
    bob_client = Client()
    bob_client.force_login(bob)
    for part, status in (("instrumental", 200), ("vocals", 200), ("original", 404)):
        audio = bob_client.get(reverse("tracks:audio", args=[track.id, part]))
        assert audio.status_code == status, part
    bob_page = bob_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert "Shared with you: Instrumental (jam track) and Vocals only." in bob_page

    _, token = share_link_create(track=track, by=alice, expires_in_days=None, scope="guide")
    assert link_access(share_link_find(token)) == access


def test_the_union_of_two_scopes_is_the_parts_either_gives(alice, bob, band, track, guide_scope):
    other = make_band(owner=alice, name="The Dogs", members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    track_share_many(tracks=[track], by=alice, band_id=other.id, scope="guide")
    access = track_access(bob, track)
    assert access.can_hear_all(["instrumental", "vocals"]) and not access.can_hear("original")

    track_share(track=track, by=alice, band_ids=[band.id, other.id], scope="guide")
    assert track_access(bob, track) == access
    track_share_many(tracks=[track], by=alice, band_id=make_band(owner=alice).id, scope="all")
    assert track_access(bob, track) == access  # a band bob is not in gives him nothing
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    assert track_access(bob, track) == Access.LISTEN


def test_the_share_form_gives_every_ticked_band_the_scope_chosen(
    alice, bob, alice_client, band, track
):
    from django.urls import reverse

    other = make_band(owner=alice, name="The Dogs")
    url = reverse("tracks:share", args=[track.id])
    alice_client.post(url, {"band": [str(band.id), str(other.id)], "scope": "all"})
    assert set(track.shares.values_list("scope", flat=True)) == {"all"}
    alice_client.post(url, {"band": [str(band.id)], "scope": "jam"})
    assert list(track.shares.values_list("band_id", "scope")) == [(band.id, "jam")]
    assert track_access(bob, track) == Access.JAM


@pytest.mark.parametrize("posted", [None, "", "vocals", "ALL"])
def test_a_scope_the_registry_does_not_hold_is_refused_and_changes_nothing(
    alice, alice_client, band, track, posted
):
    from django.urls import reverse

    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    fields = {"band": [str(band.id)]} | ({} if posted is None else {"scope": posted})
    response = alice_client.post(reverse("tracks:share", args=[track.id]), fields, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Choose what they may hear."]
    assert list(track.shares.values_list("scope", flat=True)) == ["jam"]
    link = alice_client.post(
        reverse("tracks:link_create", args=[track.id]),
        {"expires_in_days": "", "scope": posted or ""},
        follow=True,
    )
    assert [str(m) for m in link.context["messages"]] == ["Choose what they may hear."]


def test_the_track_page_ticks_the_bands_scope_and_none_while_they_differ(
    alice, alice_client, band, track
):
    from django.urls import reverse

    url = reverse("tracks:detail", args=[track.id])
    jam_ticked = 'value="jam" checked'
    assert jam_ticked in alice_client.get(url).content.decode()  # not shared yet: the default
    track_share(track=track, by=alice, band_ids=[band.id], scope="all")
    page = alice_client.get(url).content.decode()
    assert 'value="all" checked' in page and jam_ticked not in page

    track_share_many(tracks=[track], by=alice, band_id=make_band(owner=alice).id, scope="jam")
    page = alice_client.get(url).content.decode()
    assert "checked required" not in page  # no scope ticked
    assert "Your bands hear different parts of it now: choose one for all of them." in page


def test_the_bulk_share_adds_the_band_in_the_scope_chosen_and_leaves_the_others(
    alice, bob, alice_client, band, track
):
    from django.urls import reverse

    first = make_band(owner=alice, name="The Dogs")
    track_share(track=track, by=alice, band_ids=[first.id], scope="all")
    alice_client.post(
        reverse("tracks:share_bulk"),
        {"track": [str(track.id)], "band": str(band.id), "scope": "jam"},
    )
    assert dict(track.shares.values_list("band_id", "scope")) == {first.id: "all", band.id: "jam"}
    assert track_access(bob, track) == Access.JAM
