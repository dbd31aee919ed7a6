"""Serving stored files: chunked streaming under ASGI and WSGI, and Range as RFC 9110 says."""

import os
from urllib.parse import unquote

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import AsyncRequestFactory, RequestFactory
from django.urls import reverse

from tests.factories import make_track
from tracks import media
from tracks.media import Unsatisfiable, parse_range, stored_file_response
from tracks.models import Track

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, SIZE - 1)),
        ("bytes=-10", (SIZE - 10, SIZE - 1)),
        ("bytes=-5000", (0, SIZE - 1)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", (990, SIZE - 1)),  # an end past the file is cut to the file
        ("bytes=999-999", (999, 999)),
        ("Bytes=0-0", (0, 0)),  # the unit is case-insensitive
        # Ignored (None): the whole file is sent.
        ("bytes=0-9,20-29", None),  # several ranges
        ("bytes=0-9, 20-29", None),
        ("items=0-9", None),  # another unit
        ("bytes=abc", None),
        ("bytes=5-1", None),  # last before first: invalid
        ("bytes=-", None),
        ("bytes=", None),
        ("bytes 0-9", None),
        ("bytes=0x10-", None),
        ("bytes=\u0661-\u0669", None),  # Arabic-Indic digits: digits, but not ASCII ones
        ("bytes=0-9;", None),
    ],
)
def test_a_range_header_is_parsed_as_rfc_9110_says(header, expected):
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_valid_range_that_selects_nothing_is_unsatisfiable(header):
    with pytest.raises(Unsatisfiable):
        parse_range(header, SIZE)


def test_any_range_of_an_empty_file_is_ignored():
    assert parse_range("bytes=0-", 0) is None


@pytest.fixture
def stored(private_media):
    """A 1 MB stored file with bytes that differ from place to place."""
    data = os.urandom(1024 * 1024 + 123)
    name = default_storage.save("tracks/test/original.wav", ContentFile(data))
    return name, data


async def read_async(response) -> bytes:
    assert response.is_async, "under ASGI the body must be an async iterator"
    return b"".join([part async for part in response.streaming_content])


def read_sync(response) -> bytes:
    assert not response.is_async
    return b"".join(response.streaming_content)


async def test_under_asgi_the_whole_file_streams_asynchronously_as_the_same_bytes(stored):
    name, data = stored
    response = stored_file_response(AsyncRequestFactory().get("/"), name)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert await read_async(response) == data


async def test_under_asgi_a_range_streams_asynchronously(stored):
    name, data = stored
    request = AsyncRequestFactory().get("/", headers={"Range": "bytes=300000-700000"})
    response = stored_file_response(request, name)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 300000-700000/{len(data)}"
    assert response["Content-Length"] == "400001"
    assert await read_async(response) == data[300000:700001]


def test_under_wsgi_the_file_streams_in_chunks_too(stored):
    name, data = stored
    response = stored_file_response(RequestFactory().get("/"), name)
    assert read_sync(response) == data
    ranged = stored_file_response(RequestFactory().get("/", headers={"Range": "bytes=-100"}), name)
    assert read_sync(ranged) == data[-100:]


class CountingFile:
    """A stored file's handle that remembers how much was read and whether it was closed."""

    def __init__(self, handle):
        self.handle = handle
        self.bytes_read = 0
        self.closed = False

    def seek(self, offset):
        return self.handle.seek(offset)

    def read(self, size=-1):
        data = self.handle.read(size)
        self.bytes_read += len(data)
        return data

    def close(self):
        self.closed = True
        self.handle.close()


@pytest.fixture
def counting_open(monkeypatch):
    """The files media opens, as CountingFiles."""
    opened = []

    class CountingStorage:
        def __getattr__(self, name):
            return getattr(default_storage, name)

        def open(self, name, mode="rb"):
            opened.append(CountingFile(default_storage.open(name, mode)))
            return opened[-1]

    monkeypatch.setattr(media, "default_storage", CountingStorage())
    return opened


async def test_a_stream_reads_one_chunk_at_a_time_and_closes_the_file_with_the_response(
    stored, counting_open
):
    name, _ = stored
    response = stored_file_response(AsyncRequestFactory().get("/"), name)
    stream = response.streaming_content
    await anext(stream)
    [handle] = counting_open
    assert handle.bytes_read == media.CHUNK
    await stream.aclose()
    assert not handle.closed
    response.close()  # what Django's ASGI handler does, also when the client went away
    assert handle.closed


async def test_a_stream_closes_the_file_at_the_end(stored, counting_open):
    name, data = stored
    request = AsyncRequestFactory().get("/", headers={"Range": "bytes=10-19"})
    assert await read_async(stored_file_response(request, name)) == data[10:20]
    [handle] = counting_open
    assert handle.closed


def test_an_unsatisfiable_range_opens_nothing(stored, counting_open):
    name, _ = stored
    request = RequestFactory().get("/", headers={"Range": "bytes=99999999-"})
    assert stored_file_response(request, name).status_code == 416
    assert counting_open == []


# --- through the view, as the browser plays a track -----------------------------------


@pytest.fixture
def audio_url(alice, tmp_path):
    from tests.factories import make_track

    track = make_track(owner=alice, tmp_path=tmp_path)
    return reverse("tracks:audio", args=[track.id, "original"])


@pytest.mark.parametrize(
    "header",
    ["bytes=0-9,20-29", "items=0-9", "bytes=garbage", "bytes=9-0", "bytes=-"],
)
def test_a_range_we_do_not_serve_is_ignored_and_the_whole_file_sent(
    alice_client, audio_url, header
):
    whole = read_sync(alice_client.get(audio_url))
    response = alice_client.get(audio_url, headers={"Range": header})
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert response["Content-Length"] == str(len(whole))
    assert read_sync(response) == whole


def test_an_unsatisfiable_range_is_a_416_naming_the_size(alice_client, audio_url):
    size = len(read_sync(alice_client.get(audio_url)))
    response = alice_client.get(audio_url, headers={"Range": f"bytes={size}-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"


def test_a_range_with_if_range_is_ignored_as_we_send_no_validators(alice_client, audio_url):
    response = alice_client.get(
        audio_url, headers={"Range": "bytes=0-9", "If-Range": '"some-etag"'}
    )
    assert response.status_code == 200


def test_a_range_response_keeps_the_private_headers(alice_client, audio_url):
    response = alice_client.get(audio_url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"] == "private, max-age=0"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert response["Content-Type"] == "audio/wav"
    assert read_sync(response)[:4] == b"RIFF"


# --- through the real ASGI application: the client goes away mid-song ------------------


@pytest.mark.django_db(transaction=True)
async def test_a_client_that_goes_away_mid_song_stops_the_reading_and_closes_the_file(
    alice, tmp_path, private_media, counting_open
):
    import asyncio

    from channels.db import database_sync_to_async
    from django.test import Client

    from jamwithme.asgi import application
    from tests.asgi import http_scope
    from tests.factories import make_track

    def prepare():
        track = make_track(owner=alice, tmp_path=tmp_path)
        (private_media / track.original.name).write_bytes(os.urandom(8 * media.CHUNK))
        client = Client()
        client.force_login(alice)
        url = reverse("tracks:audio", args=[track.id, "original"])
        return url, client.cookies["sessionid"].value

    # Channels' wrapper closes the connection its thread opened (the test's teardown closes
    # only its own, and PostgreSQL drops no test database another connection holds).
    url, session = await database_sync_to_async(prepare)()
    first_body = asyncio.Event()
    sent, received = [], []

    async def receive():
        received.append(True)
        if len(received) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await first_body.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_body.set()
            await asyncio.sleep(3600)  # a client too slow to take more, until it leaves

    scope = http_scope(url, headers=[(b"cookie", f"sessionid={session}".encode())])
    await asyncio.wait_for(application(scope, receive, send), timeout=10)
    assert sent[0]["status"] == 200
    [handle] = counting_open
    assert handle.closed
    assert handle.bytes_read < 8 * media.CHUNK


# --- Download names: the whole title, in any script, and nothing a client could misread ---


def saved_as(header: str) -> str:
    """The file name a browser saves under, read as RFC 6266 §4.3 says: `filename*` (RFC 8187,
    UTF-8 percent-encoded) when there is one, else the quoted `filename`."""
    disposition, *params = (param.strip() for param in header.split(";"))
    assert disposition == "attachment"
    values = dict(param.split("=", 1) for param in params)
    if "filename*" in values:
        charset, _, encoded = values["filename*"].split("'", 2)
        assert charset.lower() == "utf-8"
        return unquote(encoded, errors="strict")
    quoted = values["filename"]
    assert quoted[0] == quoted[-1] == '"'
    return quoted[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def downloaded_name(client, track) -> tuple[str, str]:
    response = client.get(reverse("tracks:download", args=[track.id, "instrumental"]))
    assert response.status_code == 200
    header = response["Content-Disposition"]
    assert header.isascii() and "\r" not in header and "\n" not in header
    return saved_as(header), header


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("Ночной город", id="cyrillic"),
        pytest.param("夜のドライブ", id="japanese"),
        pytest.param("Νυχτερινή βόλτα", id="greek"),
    ],
)
def test_a_title_in_any_script_downloads_whole(alice_client, alice, tmp_path, title):
    track = make_track(owner=alice, tmp_path=tmp_path, title=title, separated=True)
    name, header = downloaded_name(alice_client, track)
    assert name == f"{title} - instrumental.wav"
    # Clients that read only `filename` get an ASCII name, before `filename*`.
    assert header.startswith('attachment; filename="track-instrumental.wav"; filename*=')


def test_an_ascii_title_downloads_whole_with_no_filename_star(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, title="Night Drive (take 2)", separated=True)
    name, header = downloaded_name(alice_client, track)
    assert header == 'attachment; filename="Night Drive (take 2) - instrumental.wav"'
    assert name == "Night Drive (take 2) - instrumental.wav"


def test_a_hostile_title_downloads_under_a_safe_name(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    # No NUL here: PostgreSQL stores none, and the forms refuse one (the next test has it).
    hostile = '../../etc/passwd\r\nSet-Cookie: a="b"\\..\u202egnp.exe'
    Track.objects.filter(id=track.id).update(title=hostile)
    name, header = downloaded_name(alice_client, track)
    assert name == "etc-passwd Set-Cookie- a='b'-..gnp.exe - instrumental.wav"
    assert not any(char in name for char in '/\\"\r\n\u202e')
    assert "Set-Cookie" not in header.split(";")[0]


def test_a_nul_in_a_title_never_reaches_a_download_name():
    name = media.DownloadName("Blue\x00Song\x00", "vocals", ".wav").whole
    assert "\x00" not in name
    assert name.startswith("Blue") and name.endswith(" - vocals.wav")


def test_a_long_title_is_cut_whole_characters_short_of_the_file_systems_limit():
    name = media.DownloadName("夜" * 300, "instrumental", ".wav").whole
    assert name == "夜" * 40 + " - instrumental.wav"  # 120 bytes of title, 3 bytes each
    assert len(name.encode()) < 255


def test_a_title_of_nothing_but_dots_and_separators_downloads_as_track():
    assert media.DownloadName(" ../.. ", "vocals", ".wav").whole == "track - vocals.wav"
    assert media.content_disposition(None) == "inline"
