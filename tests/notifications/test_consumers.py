"""The notification socket, driven through the real ASGI application."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client

from jamwithme.asgi import application
from jobs.runner import job_run
from jobs.services import job_claim
from notifications.consumers import SESSION_ENDED
from notifications.events import CHANNEL_MESSAGE, _event_checks, register_event_check, user_group
from separation.kind import SEPARATION
from tests import fakes
from tests.factories import make_track
from tests.sentinels import RelaySentinel, heard_before_a_sentinel

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/notifications/"


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def socket(cookie: str | None = None, origin: bytes = b"http://localhost"):
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, PATH, headers=headers)


@pytest.fixture
def no_relay(settings):
    settings.NOTIFICATIONS_RELAY_FROM_DB = False


@pytest.fixture
def fast_relay(settings):
    settings.NOTIFICATIONS_RELAY_FROM_DB = True
    settings.NOTIFICATIONS_POLL_INTERVAL_S = 0.05


@pytest.fixture
def relay_sentinel():
    sentinel = RelaySentinel()
    yield sentinel
    sentinel.close()


@pytest.fixture
def alice_cookie(alice):
    return session_cookie(alice)


@pytest.fixture
def bob_cookie(bob):
    return session_cookie(bob)


@pytest.fixture
def alice_track(alice, tmp_path):
    return make_track(owner=alice, tmp_path=tmp_path, title="Alice's song")


def message_for(audience, **fields):
    """A channel-layer message carrying an event, as `notifications.events.publish` sends."""
    event = {
        "type": "test.ping",
        "audience": audience,
        "key": "ping.1",
        "progress": 10,
        **fields,
    }
    return {"type": CHANNEL_MESSAGE, "event": event}


async def closing(communicator) -> tuple[dict, int]:
    """The message a closing socket sends the page (why it closes), and its close code."""
    said = await communicator.receive_json_from(timeout=2)
    closed = await communicator.receive_output(timeout=2)
    assert said["type"] == "notifications.closed" and closed["type"] == "websocket.close"
    assert said["code"] == closed["code"]
    return said, closed["code"]


def separate_now(track) -> str:
    """A worker claims and runs the track's job here, in this process."""
    job = job_claim(SEPARATION, job_id=track.job.id, worker_id="w")
    return job_run(SEPARATION, job=job, worker_id="w", engine=fakes.FakeEngine())


async def test_an_anonymous_socket_is_refused(db):
    communicator = socket()
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_a_socket_from_a_foreign_origin_is_refused(alice_cookie):
    communicator = socket(alice_cookie, origin=b"http://evil.example")
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_a_logged_in_user_connects(alice_cookie, no_relay):
    communicator = socket(alice_cookie)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.disconnect()


async def test_events_reach_only_their_owner(alice, bob, alice_cookie, bob_cookie, no_relay):
    alice_socket, bob_socket = socket(alice_cookie), socket(bob_cookie)
    assert (await alice_socket.connect())[0]
    assert (await bob_socket.connect())[0]
    try:
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        received = await alice_socket.receive_json_from(timeout=2)
        assert received["type"] == "test.ping"
        assert received["progress"] == 10
        assert "audience" not in received
        assert await heard_before_a_sentinel(bob_socket, bob.id) == []
    finally:
        await alice_socket.disconnect()
        await bob_socket.disconnect()


async def test_an_event_for_someone_else_is_dropped_even_in_my_group(
    alice, bob, alice_cookie, no_relay
):
    communicator = socket(alice_cookie)
    assert (await communicator.connect())[0]
    try:
        await get_channel_layer().group_send(user_group(alice.id), message_for([bob.id]))
        assert await heard_before_a_sentinel(communicator, alice.id) == []
    finally:
        await communicator.disconnect()


async def test_the_worker_publishes_progress_and_completion_to_the_owner(
    alice_track, bob, alice_cookie, bob_cookie, no_relay
):
    alice_socket, bob_socket = socket(alice_cookie), socket(bob_cookie)
    assert (await alice_socket.connect())[0]
    assert (await bob_socket.connect())[0]
    try:
        assert await database_sync_to_async(separate_now)(alice_track) == "done"
        events = []
        while not events or events[-1]["type"] != "separation.done":
            events.append(await alice_socket.receive_json_from(timeout=2))
        assert events[0] == {
            "type": "separation.progress",
            "key": f"job.{alice_track.job.id}",
            "job_id": alice_track.job.id,
            "track_id": str(alice_track.id),
            "title": "Alice's song",
            "status": "running",
            "status_label": "Separating 0%",
            "progress": 0,
            "phase": "separating",
            "error": "",
            "message": "",
        }
        assert events[-1]["progress"] == 100
        assert events[-1]["status_label"] == "Done"
        assert events[-1]["message"] == "The jam track of “Alice's song” is ready."
        assert await heard_before_a_sentinel(bob_socket, bob.id) == []
    finally:
        await alice_socket.disconnect()
        await bob_socket.disconnect()


async def test_without_a_shared_layer_the_socket_relays_changes_in_the_owners_job_rows(
    alice_track, bob, alice_cookie, bob_cookie, fast_relay, relay_sentinel, monkeypatch
):
    # The worker is another process: nothing it publishes reaches this one.
    monkeypatch.setattr("notifications.events.get_channel_layer", lambda: None)
    alice_socket, bob_socket = socket(alice_cookie), socket(bob_cookie)
    assert (await alice_socket.connect())[0]
    assert (await bob_socket.connect())[0]
    try:
        await database_sync_to_async(job_claim)(
            SEPARATION, job_id=alice_track.job.id, worker_id="w"
        )
        received = await alice_socket.receive_json_from(timeout=3)
        assert (received["type"], received["status"]) == ("separation.progress", "running")

        def finish():
            from separation.models import SeparationJob

            job = SeparationJob.objects.select_related("track").get(id=alice_track.job.id)
            return job_run(SEPARATION, job=job, worker_id="w", engine=fakes.FakeEngine())

        await database_sync_to_async(finish)()
        while received["type"] != "separation.done":
            received = await alice_socket.receive_json_from(timeout=3)
        assert received["progress"] == 100
        assert await relay_sentinel.heard_before(bob_socket, bob.id) == []
    finally:
        await alice_socket.disconnect()
        await bob_socket.disconnect()


async def test_the_relay_sends_each_state_once(
    alice, alice_track, alice_cookie, fast_relay, relay_sentinel
):
    communicator = socket(alice_cookie)
    assert (await communicator.connect())[0]
    try:
        await database_sync_to_async(job_claim)(
            SEPARATION, job_id=alice_track.job.id, worker_id="w"
        )
        first = await communicator.receive_json_from(timeout=3)
        assert first["status"] == "running"
        # The lookback window re-reads the same row, but an unchanged state is not re-sent:
        # the poll that brings the sentinel read the row again after the first send.
        assert await relay_sentinel.heard_before(communicator, alice.id) == []
    finally:
        await communicator.disconnect()


async def test_an_event_about_a_track_is_dropped_for_someone_who_may_not_listen_to_it(
    alice_track, bob, bob_cookie, no_relay
):
    """Even with bob named in its audience (a stale or forged event), the track's access rule
    is asked again before anything leaves the socket."""
    communicator = socket(bob_cookie)
    assert (await communicator.connect())[0]
    try:
        message = message_for([bob.id], track_id=str(alice_track.id))
        await get_channel_layer().group_send(user_group(bob.id), message)
        assert await heard_before_a_sentinel(communicator, bob.id) == []
    finally:
        await communicator.disconnect()


async def test_a_moderator_is_not_in_a_jobs_audience(alice_track, moderator, no_relay):
    communicator = socket(await database_sync_to_async(session_cookie)(moderator))
    assert (await communicator.connect())[0]
    try:
        assert await database_sync_to_async(separate_now)(alice_track) == "done"
        assert await heard_before_a_sentinel(communicator, moderator.id) == []
    finally:
        await communicator.disconnect()


async def test_a_deactivated_account_stops_hearing_at_once(
    alice, alice_track, alice_cookie, no_relay
):
    communicator = socket(alice_cookie)
    assert (await communicator.connect())[0]
    try:
        await database_sync_to_async(type(alice).objects.filter(pk=alice.pk).update)(
            is_active=False
        )
        message = message_for([alice.id], track_id=str(alice_track.id))
        await get_channel_layer().group_send(user_group(alice.id), message)
        said, code = await closing(communicator)
        assert (said["why"], code) == ("signed_out", SESSION_ENDED)
    finally:
        await communicator.disconnect()


async def test_logging_out_closes_that_sessions_socket_at_once(alice, no_relay):
    client = Client()
    await database_sync_to_async(client.force_login)(alice)
    other_session = await database_sync_to_async(session_cookie)(alice)
    this_tab, other_tab = socket(client.cookies["sessionid"].value), socket(other_session)
    assert (await this_tab.connect())[0] and (await other_tab.connect())[0]
    try:
        await database_sync_to_async(client.post)("/accounts/logout/")
        said, code = await closing(this_tab)
        assert code == 4401
        assert said["message"].startswith("You were signed out.")
        # The other session (another browser) stays signed in and keeps its socket.
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        assert (await other_tab.receive_json_from(timeout=2))["type"] == "test.ping"
    finally:
        await this_tab.disconnect()
        await other_tab.disconnect()


async def test_a_session_ended_without_a_signal_closes_its_socket_on_the_next_event(
    alice, alice_cookie, no_relay
):
    """A session that expired or was deleted from the store: no signal, but the next event
    finds it gone."""
    communicator = socket(alice_cookie)
    assert (await communicator.connect())[0]
    try:
        await database_sync_to_async(Session.objects.filter(session_key=alice_cookie).delete)()
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        assert (await closing(communicator))[1] == 4401
    finally:
        await communicator.disconnect()


async def test_deactivating_an_account_closes_all_its_sockets_without_waiting_for_an_event(
    alice, alice_cookie, no_relay
):
    communicator = socket(alice_cookie)
    assert (await communicator.connect())[0]
    try:

        def deactivate():
            alice.is_active = False
            alice.save()

        await database_sync_to_async(deactivate)()
        assert (await closing(communicator))[1] == 4401
    finally:
        await communicator.disconnect()


async def test_the_sockets_of_one_session_share_one_check_of_an_event(
    alice, alice_cookie, no_relay
):
    """Three tabs of one session each get the event; the access rule read the rows once."""
    checked = []

    def counting_check(user, event):
        checked.append((user.pk, event["key"]))
        return True

    sockets = [socket(alice_cookie) for _ in range(3)]
    try:
        for each in sockets:
            assert (await each.connect())[0]
        # Each socket has handled its siblings' "opened" messages: all three are waiting.
        assert await heard_before_a_sentinel(sockets[0], alice.id) == []
        for each in sockets[1:]:
            assert (await each.receive_json_from(timeout=2))["type"] == "test.sentinel"
        register_event_check(counting_check)
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        for each in sockets:
            assert (await each.receive_json_from(timeout=2))["key"] == "ping.1"
        assert checked == [(alice.pk, "ping.1")]
        # A new state of the same key is checked again: nothing is remembered after a check.
        await get_channel_layer().group_send(
            user_group(alice.id), message_for([alice.id], progress=20)
        )
        for each in sockets:
            assert (await each.receive_json_from(timeout=2))["progress"] == 20
        assert checked == [(alice.pk, "ping.1"), (alice.pk, "ping.1")]
    finally:
        if counting_check in _event_checks:
            _event_checks.remove(counting_check)
        for each in sockets:
            await each.disconnect()


@pytest.fixture
def alice_on_another_device(alice):
    return session_cookie(alice)


async def test_a_socket_of_an_ended_session_is_closed_while_another_sessions_socket_hears(
    alice, alice_cookie, alice_on_another_device, no_relay
):
    """The shared check is per session: one session's log-out decides nothing for another's."""
    kept, ended = alice_on_another_device, alice_cookie
    kept_socket, ended_socket = socket(kept), socket(ended)
    assert (await kept_socket.connect())[0]
    assert (await ended_socket.connect())[0]
    try:
        await database_sync_to_async(Session.objects.filter(session_key=ended).delete)()
        await get_channel_layer().group_send(user_group(alice.id), message_for([alice.id]))
        assert (await kept_socket.receive_json_from(timeout=2))["key"] == "ping.1"
        assert (await closing(ended_socket))[1] == SESSION_ENDED
    finally:
        await kept_socket.disconnect()
        await ended_socket.disconnect()


async def test_a_new_track_is_announced_to_every_open_page_of_its_owner_and_no_one_else(
    alice, bob, alice_cookie, alice_on_another_device, bob_cookie, no_relay, tmp_path
):
    first_tab, second_tab = socket(alice_cookie), socket(alice_on_another_device)
    bob_socket = socket(bob_cookie)
    for communicator in (first_tab, second_tab, bob_socket):
        assert (await communicator.connect())[0]
    try:
        track = await database_sync_to_async(make_track)(
            owner=alice, tmp_path=tmp_path, title="Brand new"
        )
        for tab in (first_tab, second_tab):
            received = await tab.receive_json_from(timeout=2)
            assert received == {
                "type": "tracks.created",
                "key": f"created.{track.id}",
                "track_id": str(track.id),
                "title": "Brand new",
                "message": "",
                "band_id": "",
            }
            then = await tab.receive_json_from(timeout=2)  # the job's news comes after
            assert (then["type"], then["status"]) == ("separation.progress", "queued")
        assert await heard_before_a_sentinel(bob_socket, bob.id) == []
    finally:
        for communicator in (first_tab, second_tab, bob_socket):
            await communicator.disconnect()
