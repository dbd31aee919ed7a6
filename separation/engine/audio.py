"""Decoding, checking and writing audio, streamed in blocks so memory stays flat at any length.

libsndfile (through soundfile) reads WAV (16/24/32-bit int, float), AIFF, FLAC, Ogg and MP3
itself. Anything else (m4a/AAC, ...) is first decoded to a temporary float WAV by the static
ffmpeg binary that ships in the ``imageio-ffmpeg`` wheel, so no system ffmpeg is needed.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioError

BLOCK_FRAMES = 1 << 16
SILENCE_PEAK = 1e-4  # -80 dBFS: nothing to separate below this
MAX_CHANNELS = 2


# libsndfile's format names that differ from our container tokens (the rest: lowercased).
_SNDFILE_CONTAINERS = {"WAVEX": "wav"}
# ffmpeg's demuxer names (the first of its list) that differ from our container tokens.
_FFMPEG_CONTAINERS = dict.fromkeys(("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "ipod"), "m4a")
_CONTAINER_NAMES = {
    "wav": "WAV", "aiff": "AIFF", "flac": "FLAC", "ogg": "Ogg", "mp3": "MP3", "m4a": "M4A",
    "aac": "AAC",
}  # fmt: skip
_CODEC_NAMES = {
    "aac": "AAC", "alac": "ALAC", "mp3": "MP3", "mpeg_layer_iii": "MP3", "vorbis": "Vorbis",
    "opus": "Opus", "flac": "FLAC",
}  # fmt: skip
UNKNOWN = "unknown"


def _bit_depth(codec: str) -> str | None:
    """ "16-bit", "32-bit float", ... for a PCM codec, libsndfile's or ffmpeg's name; else None."""
    if codec in {"float", "double"}:
        return "32-bit float" if codec == "float" else "64-bit float"
    if match := re.fullmatch(r"pcm_f(32|64)(?:le|be)?", codec):
        return f"{match[1]}-bit float"
    if match := re.fullmatch(r"pcm_[su]?(8|16|24|32)(?:le|be)?", codec):
        return f"{match[1]}-bit"
    return None


def format_label(container: str, codec: str) -> str:
    """What people read for a file's format: "WAV 24-bit", "FLAC", "MP3", "M4A (AAC)", ...

    ``container`` and ``codec`` are :class:`AudioInfo`'s tokens; a container we have no name
    for is shown upper-cased ("matroska" -> "MATROSKA").
    """
    container, codec = container.lower(), codec.lower()
    if container in {"", UNKNOWN}:
        return "Unknown format"
    name = _CONTAINER_NAMES.get(container, container.upper())
    codec_name = _CODEC_NAMES.get(codec)
    if container in {"wav", "aiff"}:
        depth = _bit_depth(codec)
        if depth:
            return f"{name} {depth}"
        return f"{name} ({codec_name})" if codec_name else name
    if container == "ogg":
        return f"{name} {codec_name}" if codec_name else name
    if container == "m4a":
        return f"{name} ({codec_name})" if codec_name else name
    return name


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    container: str  # "wav", "aiff", "flac", "ogg", "mp3", "m4a", "aac", ...; "unknown"
    codec: str  # "pcm_16", "pcm_24", "float", "vorbis", "mpeg_layer_iii", "aac", "alac", ...
    frames: int = 0
    subtype: str = ""  # libsndfile's subtype of the samples read ("FLOAT" after ffmpeg)

    @property
    def label(self) -> str:
        """What people read: "WAV 24-bit", "MP3", "M4A (AAC)", ..."""
        return format_label(self.container, self.codec)


@dataclass(frozen=True)
class Readable:
    """A file soundfile can read, and what the original file was."""

    path: Path  # the file itself, or a temporary WAV that ffmpeg decoded it to
    container: str
    codec: str


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _declared_riff_data_end(path: Path) -> int | None:
    """For a RIFF/WAVE file, the byte offset where its header says the samples end."""
    with path.open("rb") as stream:
        head = stream.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while True:
            chunk = stream.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            offset += 8
            if chunk_id == b"data":
                return None if size in (0, 0xFFFFFFFF) else offset + size
            offset += size + (size & 1)
            stream.seek(offset)


@contextlib.contextmanager
def decodable(path: str | os.PathLike, *, name: str | None = None) -> Iterator[Readable]:
    """Yield what soundfile can read: the file itself, or a temporary WAV decoded by ffmpeg.

    ``name`` is what error messages call the file (default: its own name).
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise AudioError(f"{name}: file not found.")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: the file is empty.")
    try:
        info = sf.info(str(path))
    except sf.LibsndfileError:
        pass
    else:
        container = _SNDFILE_CONTAINERS.get(info.format, info.format.lower()) or UNKNOWN
        yield Readable(path, container, info.subtype.lower() or UNKNOWN)
        return
    with tempfile.TemporaryDirectory(prefix="jamwithme-decode-") as tmp:
        target = Path(tmp) / "decoded.wav"
        # One run: "level+info" tags every line, so the input's header (what the file is) and
        # the errors (what is wrong with it) come apart in the one report.
        command = [
            *(_ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info"),
            *("-i", str(path), "-map", "0:a:0", "-vn", "-c:a", "pcm_f32le", "-f", "wav"),
            str(target),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, errors="replace", check=False
        )
        if result.returncode != 0 or not target.is_file():
            raise AudioError(f"{name}: not an audio file we can read.")
        errors = _ffmpeg_errors(result.stderr)
        if errors:
            # ffmpeg names the temporary file or the input path; keep it short and path-free.
            reason = errors[-1].split(": ", 1)[-1][:160]
            raise AudioError(f"{name}: the audio is damaged or truncated ({reason}).")
        yield Readable(target, *_ffmpeg_input(result.stderr))


_FFMPEG_ERROR = re.compile(r"^(?:\[[^\]]* @ 0x[0-9a-f]+\] )*\[(?:panic|fatal|error)\] ?(.*)$", re.M)
_FFMPEG_INPUT = re.compile(r"^\[info\] Input #0, ([^ ]+), from ", re.M)
_FFMPEG_AUDIO = re.compile(r"^\[info\] +Stream #0:\d+\S*: Audio: ([A-Za-z0-9_]+)", re.M)


def _ffmpeg_errors(report: str) -> list[str]:
    """The error lines of a "level+info" ffmpeg report (what ``-v error`` would print)."""
    return [line.strip() for line in _FFMPEG_ERROR.findall(report) if line.strip()]


def _ffmpeg_input(report: str) -> tuple[str, str]:
    """(container, codec) of the input as ffmpeg's report describes it; "unknown" if unsure."""
    header = re.split(r"^\[info\] (?:Stream mapping:|Output #0)", report, maxsplit=1, flags=re.M)[0]
    container = codec = UNKNOWN
    if match := _FFMPEG_INPUT.search(header):
        demuxer = match[1].split(",")[0].lower()
        if re.fullmatch(r"[a-z0-9_]+", demuxer):
            container = _FFMPEG_CONTAINERS.get(demuxer, demuxer)
    if match := _FFMPEG_AUDIO.search(header):
        codec = match[1].lower()
    return container, codec


def _open(path: Path, name: str) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{name}: not an audio file we can read.") from error


def read_blocks(path: Path, name: str, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Float32 blocks of shape (frames, channels); a decoding error becomes an AudioError."""
    with _open(path, name) as audio:
        try:
            yield from audio.blocks(block_frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{name}: the audio is damaged or truncated ({error}).") from error


def _check_riff_length(path: Path, name: str) -> None:
    declared_end = _declared_riff_data_end(path)
    if declared_end is not None and declared_end > path.stat().st_size:
        raise AudioError(f"{name}: the file is truncated (its header promises more audio).")


def probe(path: str | os.PathLike, *, scan: bool = True, name: str | None = None) -> AudioInfo:
    """Describe an audio file, or raise AudioError with a one-line reason.

    With ``scan`` (the default) the whole file is decoded once, in blocks, so that damaged,
    truncated and silent files are caught before any work is queued for them. ``name`` is
    what messages call the file (the user's name for an upload kept under a temporary one).
    """
    name = name or Path(path).name
    with decodable(path, name=name) as readable:
        return describe(readable, scan=scan, name=name)


def describe(readable: Readable, *, scan: bool = True, name: str) -> AudioInfo:
    """:func:`probe` for a file :func:`decodable` already opened."""
    _check_riff_length(readable.path, name)
    info = sf.info(str(readable.path))  # decodable() made sure libsndfile can open it
    channels, rate = info.channels, info.samplerate
    if channels > MAX_CHANNELS:
        raise AudioError(f"{name}: {channels} channels; only mono and stereo songs are supported.")
    if rate < 8000 or rate > 384000:
        raise AudioError(f"{name}: unsupported sample rate {rate} Hz.")
    frames, peak = info.frames, None
    if scan:
        frames, peak = 0, 0.0
        for block in read_blocks(readable.path, name):
            frames += len(block)
            if len(block):
                peak = max(peak, float(np.max(np.abs(block))))
    if frames == 0:
        raise AudioError(f"{name}: the file holds no audio.")
    if peak is not None and peak < SILENCE_PEAK:
        raise AudioError(f"{name}: the audio is silent; there is nothing to separate.")
    return AudioInfo(
        duration_s=frames / rate,
        sample_rate=rate,
        channels=channels,
        container=readable.container,
        codec=readable.codec,
        frames=frames,
        subtype=info.subtype,
    )


def waveform_peaks(path: str | os.PathLike, width: int = 800) -> np.ndarray:
    """Per-column (min, max) of the mono mix, shape (width, 2), for drawing a waveform."""
    if width <= 0:
        raise ValueError("width must be positive")
    name = Path(path).name
    with decodable(path) as decoded:
        readable = decoded.path
        total = sf.info(str(readable)).frames
        peaks = np.zeros((width, 2), dtype=np.float32)
        if total <= 0:
            return peaks
        position = 0
        for block in read_blocks(readable, name):
            mono = block.mean(axis=1)
            columns = ((position + np.arange(len(mono))) * width) // max(total, 1)
            columns = np.minimum(columns, width - 1)
            np.minimum.at(peaks[:, 0], columns, mono)
            np.maximum.at(peaks[:, 1], columns, mono)
            position += len(mono)
        return np.clip(peaks, -1.0, 1.0)


def output_subtype(info: AudioInfo) -> str:
    """16-bit output for 16-bit (and lossy) input, 24-bit for anything finer."""
    return "PCM_24" if info.subtype in {"PCM_24", "PCM_32", "FLOAT", "DOUBLE"} else "PCM_16"


class PeakTrackingWriter:
    """Writes float32 blocks to a temporary float WAV and remembers the peak."""

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        self.path = path
        self.peak = 0.0
        self.frames = 0
        self._file = sf.SoundFile(
            str(path), "w", samplerate=sample_rate, channels=channels, subtype="FLOAT", format="WAV"
        )

    def write(self, block: np.ndarray) -> None:
        if len(block):
            self.peak = max(self.peak, float(np.max(np.abs(block))))
            self.frames += len(block)
            self._file.write(block)

    def close(self) -> None:
        self._file.close()


def finalize_wav(temp: Path, target: Path, *, gain: float, subtype: str) -> None:
    """Convert a float WAV to PCM, scaled by ``gain`` (<= 1, chosen so nothing clips)."""
    partial = target.with_name(target.name + ".partial")
    with (
        sf.SoundFile(str(temp)) as src,
        sf.SoundFile(
            str(partial),
            "w",
            samplerate=src.samplerate,
            channels=src.channels,
            subtype=subtype,
            format="WAV",
        ) as dst,
    ):
        for block in src.blocks(BLOCK_FRAMES, dtype="float32", always_2d=True):
            dst.write(np.clip(block * gain, -1.0, 1.0))
    partial.replace(target)
