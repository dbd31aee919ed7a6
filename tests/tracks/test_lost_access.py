"""Whoever loses a track is told at once, whatever took it away: unsharing, leaving or
being removed from the band, the band deleted, the owner suspended or deleting the track,
a moderator hiding it. (The access rule itself ends access on the next request; these
events make open pages stop playing it now.) Events are read from the real channel layer."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.services import user_suspend
from bands import services as band_services
from bands.models import Band
from notifications.events import user_group
from tests.factories import make_band, make_track
from tests.sentinels import layer_heard_before_a_sentinel
from tracks.access import track_access
from tracks.models import TrackShare
from tracks.moderation import track_hide
from tracks.sharing import track_share, track_share_many

pytestmark = pytest.mark.django_db(transaction=True)  # the events go out on commit


@pytest.fixture
def carol(db, password):
    return User.objects.create_user("carol", "carol@example.com", password)


@pytest.fixture
def band(alice, bob, carol):
    """Carol's band; alice and bob are members."""
    return make_band(owner=carol, name="The Cats", members=[alice, bob])


@pytest.fixture
def track(alice, band, tmp_path, fake_engine):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Blue Bossa", separated=True)
    track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
    return track


@pytest.fixture
def inbox(in_memory_layer):
    """inbox(user) listens to the user's group; .revoked() returns the track ids of the
    tracks.revoked events it got since (up to a sentinel sent after them)."""
    layer = get_channel_layer()

    class Inbox:
        def __init__(self, user):
            self.channel = async_to_sync(layer.new_channel)()
            async_to_sync(layer.group_add)(user_group(user.pk), self.channel)

        def heard(self, kind: str) -> list[dict]:
            heard = async_to_sync(layer_heard_before_a_sentinel)(layer, self.channel)
            events = [message.get("event", {}) for message in heard]
            return [e for e in events if e.get("type") == kind]

        def revoked(self):
            return [e["revoked_track_id"] for e in self.heard("tracks.revoked")]

    return Inbox


def test_a_removed_members_own_tracks_leave_the_band_and_the_bandmates_are_told(
    alice, bob, carol, band, track, inbox
):
    bobs = inbox(bob)
    band_services.band_remove_member(band=band, by=carol, user=alice)
    assert not TrackShare.objects.filter(track=track).exists()
    assert not track_access(bob, track).can_play
    assert bobs.revoked() == [str(track.id)]


def test_after_leaving_a_band_bulk_sharing_with_another_still_works(alice, band, track):
    other = make_band(owner=alice, name="Solo")
    band_services.band_leave(band=band, user=alice)
    assert track_share_many(tracks=[track], by=alice, band_id=other.id) == 1


def test_deleting_the_band_tells_its_members(alice, bob, band, track, inbox):
    bobs = inbox(bob)
    band_services.band_delete(band=Band.objects.get(pk=band.pk))
    assert not track_access(bob, track).can_play
    assert bobs.revoked() == [str(track.id)]


def test_suspending_the_owner_tells_the_bandmates(alice, bob, band, track, moderator, inbox):
    bobs = inbox(bob)
    user_suspend(user=alice, by=moderator, reason="Spam.")
    assert bobs.revoked() == [str(track.id)]


def test_the_owner_deleting_a_shared_track_tells_the_bandmates(alice, bob, track, inbox):
    bobs = inbox(bob)
    client = Client()
    client.force_login(alice)
    assert client.post(reverse("tracks:delete", args=[track.id])).status_code == 302
    assert bobs.revoked() == [str(track.id)]


def test_hiding_and_leaving_tell_exactly_once(alice, bob, band, track, moderator, inbox):
    bobs = inbox(bob)
    track_hide(track=track, by=moderator, reason="Copyright claim")
    assert bobs.revoked() == [str(track.id)]


def test_someone_still_hearing_it_through_another_band_is_not_told(alice, bob, band, track, inbox):
    other = make_band(owner=alice, name="Duo", members=[bob])
    track_share(track=track, by=alice, band_ids=[band.id, other.id], scope="jam")
    bobs = inbox(bob)
    band_services.band_delete(band=Band.objects.get(pk=band.pk))
    assert track_access(bob, track).can_play
    assert bobs.revoked() == []


def test_a_member_made_a_viewer_has_their_pages_of_the_bands_tracks_refetched(
    carol, bob, band, track, in_memory_layer
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(bob.pk), channel)

    band_services.band_set_role(band=band, by=carol, user=bob, role="viewer")

    async def first_event():
        return (await asyncio.wait_for(layer.receive(channel), 5))["event"]

    event = async_to_sync(first_event)()
    assert (event["type"], event["track_id"]) == ("tracks.changed", str(track.id))
    assert not track_access(bob, track).can_download and track_access(bob, track).can_play


def test_a_new_scope_has_the_bandmates_pages_refetched_and_takes_nothing_away(
    alice, bob, band, track, in_memory_layer
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(bob.pk), channel)

    track_share(track=track, by=alice, band_ids=[band.id], scope="all")

    heard = async_to_sync(layer_heard_before_a_sentinel)(layer, channel)
    events = [(m["event"]["type"], m["event"].get("track_id")) for m in heard]
    assert events == [("tracks.changed", str(track.id))]
    assert track_access(bob, track).hears_all


def test_hiding_tells_the_owner_at_once_with_the_message_never_the_reason(
    alice, bob, track, moderator, inbox
):
    from tracks.moderation import report_create

    alices, bobs = inbox(alice), inbox(bob)
    report_create(track=track, reporter=bob, reason="spam")
    track_hide(
        track=track,
        by=moderator,
        reason="bob says it is stolen",
        message="A rights holder claimed it.",
        tell_reporters=True,
    )
    told = alices.heard("tracks.moderated")
    assert [(e["moderated_track_id"], e["action"], e["message"]) for e in told] == [
        (str(track.id), "hidden", "A rights holder claimed it.")
    ]
    assert told[0]["notice"] == "The moderators hid “Blue Bossa”: only you can see it now."
    assert "stolen" not in str(told)
    reporter = bobs.heard("tracks.report_closed")
    assert [e["message"] for e in reporter] == [
        "A moderator looked at your report of “Blue Bossa” and acted on it."
    ]


def test_removing_tells_the_owner_at_once(alice, track, moderator, inbox):
    from tracks.moderation import track_remove

    alices = inbox(alice)
    track_remove(track=track, by=moderator, reason="Spam upload", message="Not a song.")
    told = alices.heard("tracks.moderated")
    assert [(e["action"], e["notice"], e["message"]) for e in told] == [
        ("removed", "The moderators removed “Blue Bossa”.", "Not a song.")
    ]
