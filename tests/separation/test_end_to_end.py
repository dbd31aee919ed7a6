"""Upload a real clip, separate it with the real model, hear about it over the WebSocket,
download a real instrumental."""

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tests.notifications.test_consumers import session_cookie, socket
from tracks.models import Track

CLIP = Path(__file__).resolve().parents[1] / "data" / "dev1_vocadito10_loops" / "mix.flac"


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
async def test_a_real_song_becomes_a_downloadable_jam_track(alice):
    client = Client()
    await database_sync_to_async(client.force_login)(alice)

    def upload():
        with CLIP.open("rb") as fh:
            return client.post(reverse("separation:upload"), {"file": fh})

    response = await database_sync_to_async(upload)()
    assert response.status_code == 302, response.content[:500]
    track = await database_sync_to_async(Track.objects.select_related("job").get)()
    assert track.job.status == "queued"

    communicator = socket(await database_sync_to_async(session_cookie)(alice))
    assert (await communicator.connect())[0]
    try:
        await database_sync_to_async(call_command)("separation_worker", "--once")
        event = {}
        while event.get("type") not in ("separation.done", "separation.failed"):
            event = await communicator.receive_json_from(timeout=30)
        assert event["type"] == "separation.done", event
        assert event["track_id"] == str(track.id)
    finally:
        await communicator.disconnect()

    def download():
        response = client.get(reverse("tracks:download", args=[track.id, "instrumental"]))
        return response, b"".join(response.streaming_content)

    response, body = await database_sync_to_async(download)()
    assert response.status_code == 200
    instrumental, rate = sf.read(io.BytesIO(body), dtype="float32", always_2d=True)
    original = sf.info(str(CLIP))
    assert rate == original.samplerate
    assert abs(len(instrumental) - original.frames) <= 0.01 * original.frames
    assert float(np.sqrt(np.mean(instrumental**2))) > 1e-3
