"""A corpus of hostile audio files, generated (nothing binary is committed).

Each :class:`Case` is a file name, its bytes and where it must be stopped:

* ``"upload"``: the header check refuses it in the web request (no decode);
* ``"worker"``: its header looks fine, only the full decode finds the lie (truncated, longer
  than it says, silent) — the job fails with a clear reason;
* ``"ok"``: odd but harmless (a wrong extension, a size field libsndfile corrects): it is
  read as what it is, no more than its header says.

``python -m tests.corpus DIR`` writes the corpus to DIR (seeds for ``bench/fuzz_probe.py``).
"""

from __future__ import annotations

import io
import os
import struct
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44100


@dataclass(frozen=True)
class Case:
    name: str  # the file name the user gives (its extension matters to the upload form)
    data: bytes
    stage: str  # "upload", "worker" or "ok"
    why: str = ""


def _tone(seconds: float, rate: int = RATE, channels: int = 2, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    signal = level * np.sin(2 * np.pi * 440 * t) * (0.7 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    return np.repeat(signal[:, None], channels, axis=1).astype(np.float32)


def _encode(audio: np.ndarray, rate: int, **options) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, **options)
    return buffer.getvalue()


@cache
def wav() -> bytes:
    return _encode(_tone(1.0), RATE, format="WAV", subtype="PCM_16")


@cache
def flac() -> bytes:
    return _encode(_tone(1.0), RATE, format="FLAC", subtype="PCM_16")


@cache
def mp3() -> bytes:
    return _encode(_tone(3.0), RATE, format="MP3", subtype="MPEG_LAYER_III")


@cache
def vorbis() -> bytes:
    return _encode(_tone(1.0), RATE, format="OGG", subtype="VORBIS")


@cache
def opus() -> bytes:
    return _encode(_tone(1.0, rate=48000), 48000, format="OGG", subtype="OPUS")


# -- WAV ------------------------------------------------------------------------------------
def _wav_fmt(data: bytes, *, rate: int | None = None, channels: int | None = None) -> bytes:
    """Rewrite the fmt chunk's rate or channel count (byte rate and block align follow)."""
    out = bytearray(data)
    assert out[12:16] == b"fmt "
    if channels is not None:
        struct.pack_into("<H", out, 22, channels)
    if rate is not None:
        struct.pack_into("<I", out, 24, rate)
    _, chans, samplerate, _, _, bits = struct.unpack_from("<HHIIHH", out, 20)
    struct.pack_into("<IH", out, 28, samplerate * chans * bits // 8, chans * bits // 8)
    return bytes(out)


def _wav_data_offset(data: bytes) -> int:
    offset = 12
    while data[offset : offset + 4] != b"data":
        offset += 8 + struct.unpack_from("<I", data, offset + 4)[0]
    return offset


def _wav_data_size(data: bytes, size: int) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, _wav_data_offset(data) + 4, size)
    return bytes(out)


def _riff_size(data: bytes, size: int) -> bytes:
    return data[:4] + struct.pack("<I", size) + data[8:]


# -- FLAC -----------------------------------------------------------------------------------
_STREAMINFO = 8 + 10  # "fLaC", block header, min/max block and frame sizes


def _flac_streaminfo(data: bytes, *, total: int | None = None, rate: int | None = None) -> bytes:
    """Rewrite STREAMINFO's total samples (36 bits) or sample rate (20 bits)."""
    (packed,) = struct.unpack_from(">Q", data, _STREAMINFO)
    if total is not None:
        packed = (packed & ~((1 << 36) - 1)) | total
    if rate is not None:
        packed = (packed & ((1 << 44) - 1)) | (rate << 44)
    return data[:_STREAMINFO] + struct.pack(">Q", packed) + data[_STREAMINFO + 8 :]


def _flac_first_frame(data: bytes) -> int:
    offset = 4
    while True:
        last, size = data[offset] & 0x80, int.from_bytes(data[offset + 1 : offset + 4], "big")
        offset += 4 + size
        if last:
            return offset


# -- MP3 ------------------------------------------------------------------------------------
def _xing_frames(data: bytes, frames: int) -> bytes:
    """Rewrite the Xing/Info tag's frame count (libsndfile's LAME writes one)."""
    at = data.find(b"Xing")
    if at < 0:
        at = data.find(b"Info")
    assert at >= 0 and data[at + 7] & 1, "no Xing frame count"
    return data[: at + 8] + struct.pack(">I", frames) + data[at + 12 :]


def _id3(size: int, tail: bytes = b"") -> bytes:
    syncsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + syncsafe + tail


def _mp3_first_frame(data: bytes) -> int:
    return next(i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] & 0xE0 == 0xE0)


# -- Ogg ------------------------------------------------------------------------------------
def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_pages(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each page."""
    pages, offset = [], 0
    while offset + 27 <= len(data) and data[offset : offset + 4] == b"OggS":
        count = data[offset + 26]
        body = sum(data[offset + 27 : offset + 27 + count])
        end = offset + 27 + count + body
        pages.append((offset, end))
        offset = end
    return pages


def _ogg_last_granule(data: bytes, granule: int) -> bytes:
    """Set the last page's granule position (the stream's length) and fix its CRC."""
    start, end = _ogg_pages(data)[-1]
    page = bytearray(data[start:end])
    struct.pack_into("<q", page, 6, granule)
    struct.pack_into("<I", page, 22, 0)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return data[:start] + bytes(page) + data[end:]


def _ffmpeg(*args: str) -> bytes:
    import subprocess

    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", *args, "-"]
    return subprocess.run(command, capture_output=True, check=True).stdout


@cache
def m4a() -> bytes:
    return _ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"),
        *("-c:a", "aac", "-f", "ipod", "-movflags", "frag_keyframe+empty_moov"),
    )


@cache
def adts() -> bytes:
    return _ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=1"),
        *("-c:a", "aac", "-f", "adts"),
    )


@cache
def mp3_in_wav() -> bytes:
    """A RIFF/WAVE file whose codec is MP3 (0x55): libsndfile would hand it to libmpg123."""
    return _ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2"),
        *("-c:a", "libmp3lame", "-f", "wav"),
    )


def _damaged(data: bytes, at: int, length: int) -> bytes:
    return data[:at] + bytes(length) + data[at + length :]


def cases() -> list[Case]:
    w, f, m, v, o = wav(), flac(), mp3(), vorbis(), opus()
    wav_data = _wav_data_offset(w)
    flac_frame = _flac_first_frame(f)
    mp3_frame = _mp3_first_frame(m)
    ogg_pages = _ogg_pages(v)
    rng = np.random.default_rng(1234)
    silent = _encode(np.zeros((RATE, 2), np.float32), RATE, format="WAV", subtype="PCM_16")
    ten_minutes = 600 * RATE
    return [
        # WAV: lying sizes, rates, channels, truncations
        Case("riff-size-huge.wav", _riff_size(w, 0xFFFFFFF0), "ok", "RIFF size past the end"),
        Case("riff-size-tiny.wav", _riff_size(w, 4), "ok", "RIFF size too small"),
        Case("data-size-huge.wav", _wav_data_size(w, 0x7FFFFFF0), "upload", "data past the end"),
        Case("data-size-streaming.wav", _wav_data_size(w, 0xFFFFFFFF), "ok", "size unknown"),
        Case("data-size-zero.wav", _wav_data_size(w, 0), "upload", "no samples"),
        Case("rate-1hz.wav", _wav_fmt(w, rate=1), "upload", "1 Hz"),
        Case("rate-7999hz.wav", _wav_fmt(w, rate=7999), "upload", "just under 8 kHz"),
        Case("rate-8000hz.wav", _wav_fmt(w, rate=8000), "ok", "8 kHz, the lowest accepted"),
        Case("rate-384khz.wav", _wav_fmt(w, rate=384000), "upload", "384 kHz"),
        Case("rate-10mhz.wav", _wav_fmt(w, rate=10_000_000), "upload", "10 MHz"),
        Case("channels-0.wav", _wav_fmt(w, channels=0), "upload", "no channels"),
        Case("channels-3.wav", _wav_fmt(w, channels=3), "upload", "3 channels"),
        Case("channels-8.wav", _wav_fmt(w, channels=8), "upload", "8 channels"),
        Case("channels-255.wav", _wav_fmt(w, channels=255), "upload", "255 channels"),
        Case("cut-riff-header.wav", w[:12], "upload", "RIFF header only"),
        Case("cut-fmt-chunk.wav", w[:24], "upload", "inside the fmt chunk"),
        Case("cut-data-start.wav", w[: wav_data + 8], "upload", "data chunk, no samples"),
        Case("cut-mid-frame.wav", w[: wav_data + 8 + 4001], "upload", "mid-frame"),
        Case("silent.wav", silent, "worker", "digital silence"),
        Case("mp3-in-wav.wav", mp3_in_wav(), "ok", "MP3 in a WAV: through ffmpeg"),
        Case(
            "mp3-in-wav-damaged.wav",
            _damaged(mp3_in_wav(), _wav_data_offset(mp3_in_wav()) + 8, 3000),
            "worker",
            "damaged MP3 in a WAV: no libmpg123 chatter",
        ),
        # FLAC: STREAMINFO lies, rates, truncations, bombs
        Case("total-unknown.flac", _flac_streaminfo(f, total=0), "upload", "no length"),
        Case("total-ten-minutes.flac", _flac_streaminfo(f, total=ten_minutes), "worker", "lie"),
        Case("total-short.flac", _flac_streaminfo(f, total=RATE // 10), "ok", "says 0.1 s"),
        Case("total-max.flac", _flac_streaminfo(f, total=(1 << 36) - 1), "upload", "36-bit total"),
        Case("bomb-384khz.flac", _flac_streaminfo(f, rate=384000), "upload", "384 kHz"),
        Case(
            "bomb-192khz-10min.flac",
            _flac_streaminfo(f, rate=192000, total=600 * 192000),
            "upload",
            "over the decoded-samples budget",
        ),
        Case("bomb-hour.flac", _flac_streaminfo(f, total=3600 * RATE), "upload", "an hour"),
        Case("cut-marker.flac", f[:4], "upload", "fLaC only"),
        Case("cut-streaminfo.flac", f[:20], "upload", "inside STREAMINFO"),
        Case("cut-before-frames.flac", f[:flac_frame], "worker", "metadata, no frames"),
        Case("cut-first-frame.flac", f[: flac_frame + 40], "worker", "mid first frame"),
        Case("cut-half.flac", f[: len(f) // 2], "worker", "half the frames"),
        # MP3: Xing lies, ID3, truncations
        Case("xing-ten-minutes.mp3", _xing_frames(m, 600 * RATE // 1152), "worker", "Xing lie"),
        Case("xing-one-frame.mp3", _xing_frames(m, 2), "ok", "ffmpeg stops where Xing ends"),
        Case("xing-hour.mp3", _xing_frames(m, 3600 * RATE // 1152), "upload", "an hour"),
        Case("cut-id3.mp3", _id3(64, b"\0" * 74)[:40], "upload", "ID3 only"),
        Case("cut-first-frame.mp3", m[: mp3_frame + 100], "upload", "inside the first frame"),
        Case("cut-mid-stream.mp3", m[: len(m) // 3], "worker", "a third of the stream"),
        Case("id3-huge.mp3", _id3(6_000_000) + bytes(6_000_000) + m, "ok", "a 6 MB ID3 tag"),
        Case("id3-past-end.mp3", _id3(100_000_000) + m, "upload", "ID3 size past the end"),
        Case("garbage-after-id3.mp3", _id3(16, bytes(16)) + rng.bytes(4096), "upload", "noise"),
        # Ogg: granule lies, truncations at page boundaries
        Case("granule-hour.ogg", _ogg_last_granule(v, 3600 * RATE), "ok", "libsndfile measures"),
        Case("granule-hour.opus.ogg", _ogg_last_granule(o, 3600 * 48000), "upload", "an hour"),
        Case("cut-first-page.ogg", v[: ogg_pages[0][1]], "upload", "identification only"),
        Case("cut-headers.ogg", v[: ogg_pages[1][1]], "upload", "headers, no audio"),
        Case("cut-mid-page.ogg", v[: ogg_pages[0][1] + 10], "upload", "inside page 2"),
        # Other containers
        Case("cut-moov.m4a", m4a()[:600], "upload", "m4a cut in its header"),
        Case("raw.aac", adts(), "ok", "ADTS: ffmpeg estimates the length"),
        # Not audio at all
        Case("empty.wav", b"", "upload", "zero bytes"),
        Case("random.wav", rng.bytes(1024), "upload", "random bytes"),
        Case("random.mp3", rng.bytes(65536), "upload", "random bytes"),
        Case("lyrics.wav", b"These are my lyrics, not audio.\n" * 50, "upload", "a text file"),
        Case("song.mp3.wav", m, "ok", "an MP3 named .wav"),
        Case("song.flac.ogg", f, "ok", "a FLAC named .ogg"),
    ]


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for case in cases():
        path = directory / case.name
        path.write_bytes(case.data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else os.curdir)
    for path in write(target):
        print(path)
