"""Fetching a link's best audio with yt-dlp, through the network guard (`imports.guard`).

Django-free: the caller (`imports.work`) gives the guard, the caps and a check of the
extractor's metadata, and turns `FetchError` into the job's one-sentence reason. Every
request the extractor and its native downloaders make goes through the guard's proxy; no
external downloader (ffmpeg, aria2c) is ever asked to fetch anything.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from imports.guard import Guard, GuardProxy

logger = logging.getLogger(__name__)


class FetchError(Exception):
    """The fetch failed: the message is the one sentence people read."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    title: str
    duration_s: float | None
    page_url: str


# What the extractor says, and the sentence people read instead. First match wins.
_MESSAGES = (
    (("private video", "video is private", "this video is private"), "That video is private."),
    (
        ("sign in", "log in", "login", "logged-in", "members-only", "confirm your age"),
        "That page needs a log-in, and imports cannot sign in.",
    ),
    (
        ("in your country", "geo restrict", "geo-restrict", "your region", "georestrict"),
        "That video is blocked in this server's region.",
    ),
    (
        ("unsupported url",),
        "We found no audio at that link: the site is not one we know, or the page has none.",
    ),
    (
        ("requested format is not available", "no video formats", "no formats"),
        "That page has no audio we can fetch.",
    ),
    (("http error 404", "404: not found"), "Nothing was found at that address (404)."),
    (
        ("http error 5", "timed out", "connection refused", "unable to download", "bad gateway"),
        "The site did not answer properly; please try again later.",
    ),
)


def explain(message: str) -> str:
    lowered = message.lower()
    for needles, sentence in _MESSAGES:
        if any(needle in lowered for needle in needles):
            return sentence
    return "We could not fetch audio from that link."


def fetch_audio(
    url: str,
    *,
    out_dir: Path,
    guard: Guard,
    max_bytes: int,
    page_bytes: int,
    deadline_s: float,
    check: Callable[[dict], None],
    progress: Callable[[float], None],
    stop: threading.Event | None = None,
) -> Fetched:
    """Download the best audio-only format of ``url`` into ``out_dir``.

    ``check(info)`` sees the extractor's metadata of the chosen format before any media byte
    is fetched (raise FetchError to refuse). The media file is capped at ``max_bytes``; the
    guard's proxy caps each connection at ``max_bytes + page_bytes``, all of them together
    at four times that, and the whole fetch at ``deadline_s``, whatever the servers'
    headers say. ``progress(fraction)`` is called as
    bytes come in. Setting ``stop`` (another thread: the job was cancelled) closes every
    connection at once and the fetch ends in FetchError; an exception from ``progress``
    stops it too and is raised again here."""
    stop = stop or threading.Event()
    raised: list[BaseException] = []

    def hook(status: dict) -> None:
        if stop.is_set():
            raise FetchError("The fetch was stopped.")
        total = status.get("total_bytes") or status.get("total_bytes_estimate")
        done = status.get("downloaded_bytes") or 0
        if done > max_bytes:
            raise FetchError(_too_big(max_bytes))
        try:
            progress(min(1.0, done / total) if total else 0.0)
        except BaseException as exc:
            raised.append(exc)
            stop.set()
            raise

    quiet = _Quiet()
    caps = (max_bytes, page_bytes, deadline_s)
    try:
        return _fetch(url, out_dir, guard, caps, check, hook, stop, raised, quiet)
    except BaseException:
        for leftover in out_dir.iterdir():  # nothing partial stays behind
            leftover.unlink(missing_ok=True)
        raise


def _fetch(url, out_dir, guard, caps, check, hook, stop, raised, quiet) -> Fetched:
    import yt_dlp  # the worker's alone: the web process never loads it
    from yt_dlp.utils import DownloadError

    max_bytes, page_bytes, deadline_s = caps
    proxy = GuardProxy(guard, max_bytes=max_bytes + page_bytes, deadline_s=deadline_s, stop=stop)
    with proxy:
        options = {
            "proxy": proxy.url,
            "format": "bestaudio",
            "noplaylist": True,
            "outtmpl": {"default": str(out_dir / "media.%(ext)s")},
            "max_filesize": max_bytes,
            "socket_timeout": 20,
            "retries": 1,
            "fragment_retries": 1,
            "extractor_retries": 0,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "progress_hooks": [hook],
            # Native downloaders only, and no ffmpeg at all for yt-dlp (a folder that does not
            # exist): ffmpeg would open its own connections, around the guard. The engine
            # decodes the file afterwards, on local disk.
            "external_downloader": {"default": "native"},
            "ffmpeg_location": str(out_dir / "no-ffmpeg"),
            "cachedir": False,
            "noresizebuffer": False,
            "updatetime": False,
            "writethumbnail": False,
            "postprocessors": [],
            "logger": quiet,
        }
        try:
            with yt_dlp.YoutubeDL(options) as ydl:
                info = ydl.extract_info(url, download=False)
                if info is None:
                    raise FetchError("That page has no audio we can fetch.")
                check(info)
                for format_ in info.get("requested_formats") or [info]:
                    if format_.get("protocol", "http").split("+")[0] not in _NATIVE:
                        raise FetchError("That page's audio comes in a form we cannot fetch.")
                ydl.process_ie_result(info, download=True)
        except DownloadError as exc:
            if raised:
                raise raised[0] from exc
            if stop.is_set():
                raise FetchError("The fetch was stopped.") from exc
            raise FetchError(_reason(proxy, str(exc), max_bytes, quiet)) from exc
        except FetchError:
            if raised:
                raise raised[0] from None
            raise
        if raised:
            raise raised[0]
        if stop.is_set():
            raise FetchError("The fetch was stopped.")
        if proxy.refusal or proxy.stopped:
            raise FetchError(_reason(proxy, "", max_bytes, quiet))
    media = [p for p in out_dir.glob("media.*") if not p.name.endswith((".part", ".ytdl"))]
    if not media:
        raise FetchError(_reason(proxy, "no file", max_bytes, quiet))
    path = media[0]
    if path.stat().st_size > max_bytes:
        raise FetchError(_too_big(max_bytes))
    duration = info.get("duration")
    title = str(info.get("title") or "")
    if info.get("extractor_key") in ("Generic", "HTML5MediaEmbed"):  # a page's <audio>: "Title (1)"
        title = re.sub(r" \(1\)$", "", title)
    return Fetched(
        path=path,
        title=title,
        duration_s=float(duration) if duration else None,
        page_url=str(info.get("webpage_url") or url),
    )


_NATIVE = {"http", "https", "m3u8_native", "http_dash_segments"}


def _too_big(max_bytes: int) -> str:
    return f"That file is larger than the import limit of {max_bytes // (1024 * 1024)} MB."


def _reason(proxy: GuardProxy, message: str, max_bytes: int, quiet: _Quiet) -> str:
    """The guard's own reason first (a refused address, a cap), else the extractor's."""
    if proxy.refusal:
        return proxy.refusal
    said = " ".join([message, *quiet.said]).lower()
    if proxy.stopped == "bytes" or "larger than max-filesize" in said:
        return _too_big(max_bytes)
    if proxy.stopped == "time":
        return "Fetching that link took longer than the time limit."
    if proxy.unreachable:
        return f"{proxy.unreachable.rstrip('.')}; please try again later."
    return explain(message)


class _Quiet:
    """yt-dlp's messages go to our log, not to the worker's terminal; what it said is kept
    (it says "larger than max-filesize" and skips the download without raising)."""

    def __init__(self):
        self.said: list[str] = []

    def debug(self, message: str) -> None:
        self.said = [*self.said[-20:], message]
        logger.debug("yt-dlp: %s", message)

    def info(self, message: str) -> None:
        self.debug(message)

    def warning(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)

    def error(self, message: str) -> None:
        logger.info("yt-dlp: %s", message)
