"""Sockets that cost nothing idle: session and account changes are pushed to them, the row
relay is one loop per process, and a user's sockets are capped (oldest closed)."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from accounts.services import user_suspend
from notifications.consumers import ACCOUNT_SUSPENDED, SESSION_ENDED, TOO_MANY_SOCKETS
from notifications.events import _relay_sources, register_relay_source, user_group
from notifications.relay import process_relay
from tests.notifications.test_consumers import closing, message_for, session_cookie, socket
from tests.sentinels import RelaySentinel, heard_before_a_sentinel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_relay(settings):
    settings.NOTIFICATIONS_RELAY_FROM_DB = False


@pytest.fixture
def fast_relay(settings):
    settings.NOTIFICATIONS_RELAY_FROM_DB = True
    settings.NOTIFICATIONS_POLL_INTERVAL_S = 0.05


async def connected(*cookies):
    sockets = [socket(cookie) for cookie in cookies]
    for each in sockets:
        assert (await each.connect())[0]
    return sockets


async def disconnect(sockets):
    for each in sockets:
        await each.disconnect()


async def test_suspending_an_account_closes_every_one_of_its_sockets_saying_why(
    alice, moderator, no_relay
):
    first = await database_sync_to_async(session_cookie)(alice)
    second = await database_sync_to_async(session_cookie)(alice)
    sockets = await connected(first, second)
    try:
        await database_sync_to_async(user_suspend)(user=alice, by=moderator, reason="spam")
        for each in sockets:
            said, code = await closing(each)
            assert code == ACCOUNT_SUSPENDED
            assert said["why"] == "suspended"
            assert "suspended your account" in said["message"]
    finally:
        await disconnect(sockets)


async def test_a_new_password_closes_the_other_sessions_sockets_at_once(alice, password, no_relay):
    client = Client()
    await database_sync_to_async(client.force_login)(alice)
    elsewhere = await database_sync_to_async(session_cookie)(alice)
    (other_browser,) = await connected(elsewhere)
    try:
        reply = await database_sync_to_async(client.post)(
            "/accounts/password_change/",
            {
                "old_password": password,
                "new_password1": "another-Jam-password-43",
                "new_password2": "another-Jam-password-43",
            },
        )
        assert reply.status_code == 302
        assert (await closing(other_browser))[1] == SESSION_ENDED
        # The browser that changed it stays signed in (under a new session key).
        (this_browser,) = await connected(client.cookies["sessionid"].value)
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        assert (await this_browser.receive_json_from(timeout=2))["type"] == "test.ping"
        await this_browser.disconnect()
    finally:
        await other_browser.disconnect()


async def test_a_users_oldest_socket_closes_when_one_more_than_the_cap_opens(
    alice, bob, settings, no_relay
):
    settings.NOTIFICATIONS_MAX_SOCKETS_PER_USER = 2
    alice_cookie = await database_sync_to_async(session_cookie)(alice)
    bob_cookie = await database_sync_to_async(session_cookie)(bob)
    oldest, bobs, middle = await connected(alice_cookie, bob_cookie, alice_cookie)
    newest = socket(alice_cookie)
    try:
        assert await heard_before_a_sentinel(oldest, alice.id) == []  # two open: no close
        assert (await middle.receive_json_from(timeout=2))["type"] == "test.sentinel"
        assert (await newest.connect())[0]
        said, code = await closing(oldest)
        assert (said["why"], code) == ("too_many", TOO_MANY_SOCKETS)
        # The two newest, and bob's, stay open and hear what is sent to them.
        assert await heard_before_a_sentinel(middle, alice.id) == []
        assert (await newest.receive_json_from(timeout=2))["type"] == "test.sentinel"
        assert await heard_before_a_sentinel(bobs, bob.id) == []
    finally:
        await disconnect([oldest, bobs, middle, newest])


async def test_a_closed_socket_no_longer_counts_against_the_cap(alice, settings, no_relay):
    settings.NOTIFICATIONS_MAX_SOCKETS_PER_USER = 2
    cookie = await database_sync_to_async(session_cookie)(alice)
    first, second = await connected(cookie, cookie)
    await second.disconnect()
    third = socket(cookie)
    try:
        assert (await third.connect())[0]
        # first heard second open and go: with third, two are open, and none closes.
        assert await heard_before_a_sentinel(first, alice.id) == []
        assert (await third.receive_json_from(timeout=2))["type"] == "test.sentinel"
    finally:
        await disconnect([first, third])


class CountingSource:
    """A relay source that records the users each look asks about."""

    def __init__(self):
        self.asked: list[frozenset[int]] = []
        register_relay_source(self)

    def __call__(self, user_ids, since):
        self.asked.append(user_ids)
        return [], since

    def close(self):
        _relay_sources.remove(self)


async def test_the_relay_looks_once_for_every_socket_of_the_process_and_stops_with_the_last(
    alice, bob, fast_relay
):
    counting, sentinel = CountingSource(), RelaySentinel()
    try:
        alice_cookie = await database_sync_to_async(session_cookie)(alice)
        bob_cookie = await database_sync_to_async(session_cookie)(bob)
        sockets = await connected(alice_cookie, alice_cookie, alice_cookie, bob_cookie)
        # Every socket is open: the next looks ask about both users at once.
        counting.asked.clear()
        assert await sentinel.heard_before(sockets[3], bob.id) == []
        assert counting.asked and set(counting.asked) == {frozenset({alice.id, bob.id})}
        relay = process_relay()
        assert relay.task is not None and not relay.task.done()
        await disconnect(sockets)
        assert relay.task is None and not relay.sockets
    finally:
        counting.close()
        sentinel.close()


async def test_once_a_share_is_revoked_the_relay_brings_that_tracks_events_no_more(
    alice, bob, tmp_path, fast_relay
):
    """What the per-socket poll protected, with one loop for the process: a former
    bandmate's socket hears the revocation, then nothing more about the track."""
    from jobs.services import job_claim
    from jobs.state import heartbeat
    from separation.kind import SEPARATION
    from separation.models import SeparationJob
    from tests.factories import make_band, make_track
    from tracks.sharing import track_share

    def shared_track():
        band = make_band(owner=alice, members=[bob])
        track = make_track(owner=alice, tmp_path=tmp_path, title="Shared song")
        track_share(track=track, by=alice, band_ids=[band.id], scope="jam")
        return track

    track = await database_sync_to_async(shared_track)()
    sentinel = RelaySentinel()
    (bobs,) = await connected(await database_sync_to_async(session_cookie)(bob))
    try:
        await database_sync_to_async(job_claim)(SEPARATION, job_id=track.job.id, worker_id="w")
        heard = await bobs.receive_json_from(timeout=5)
        assert (heard["type"], heard["track_id"]) == ("separation.progress", str(track.id))

        await database_sync_to_async(track_share)(track=track, by=alice, band_ids=[], scope="jam")
        revoked = await bobs.receive_json_from(timeout=5)
        assert (revoked["type"], revoked["revoked_track_id"]) == ("tracks.revoked", str(track.id))
        await database_sync_to_async(heartbeat)(
            SeparationJob, pk=track.job.id, worker_id="w", progress=40
        )
        assert await sentinel.heard_before(bobs, bob.id) == []
    finally:
        sentinel.close()
        await bobs.disconnect()
