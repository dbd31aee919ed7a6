"""Decoding, checking and writing audio, streamed in blocks so memory stays flat at any length.

libsndfile (through soundfile) reads WAV (16/24/32-bit int, float), AIFF, FLAC and Ogg
itself. Anything else (MP3, m4a/AAC, ...) is first decoded to a temporary float WAV by the
static ffmpeg binary that ships in the ``imageio-ffmpeg`` wheel, so no system ffmpeg is
needed; MP3 goes that way because libsndfile's libmpg123 prints to the process's stderr.

Every file's header is read first (:func:`read_header`, milliseconds, no decode) and checked
against the caller's :class:`Limits`; the decode then stops as soon as it goes past them or
past what the header promised, and one that ends short of the header is a truncated file.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import AudioError, AudioLimitError

BLOCK_FRAMES = 1 << 16
SILENCE_PEAK = 1e-4  # -80 dBFS: nothing to separate below this
MAX_CHANNELS = 2
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 384000  # the engine's own ceiling, whatever the limits say


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
    codec: str  # "pcm_16", "pcm_24", "float", "vorbis", "mp3", "aac", "alac", ...
    frames: int = 0
    subtype: str = ""  # libsndfile's subtype of the samples read ("FLOAT" after ffmpeg)
    estimated: bool = False  # the length is ffmpeg's guess from the bit rate, not a promise

    @property
    def label(self) -> str:
        """What people read: "WAV 24-bit", "MP3", "M4A (AAC)", ..."""
        return format_label(self.container, self.codec)


@dataclass(frozen=True)
class Limits:
    """How much audio one song may make us decode; ``None``: no limit of that kind.

    The header is checked against them in milliseconds (:func:`probe` without ``scan``);
    the full decode stops as soon as it goes past them or past what the header said.
    """

    max_duration_s: float | None = None
    max_sample_rate: int | None = None
    max_samples: int | None = None  # decoded samples: rate x seconds x channels

    def max_frames(self, rate: int, channels: int) -> int | None:
        """The most frames a file at ``rate`` with ``channels`` may decode to."""
        caps = []
        if self.max_duration_s is not None:
            caps.append(int(self.max_duration_s * rate))
        if self.max_samples is not None:
            caps.append(self.max_samples // max(1, channels))
        return min(caps) if caps else None


NO_LIMITS = Limits()


@dataclass(frozen=True)
class Readable:
    """A file soundfile can read, what the original file was, and what its header said."""

    path: Path  # the file itself, or a temporary WAV that ffmpeg decoded it to
    container: str
    codec: str
    header: AudioInfo | None = None
    ceiling: int | None = None  # decoding past this many frames is refused


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


# What libsndfile reads itself. Everything else goes to ffmpeg, MP3 included: libsndfile
# decodes MP3 with libmpg123, which writes its complaints straight to the process's stderr
# (fd 2) — into the web server's and the worker's logs — while ffmpeg's are captured.
_SNDFILE_MAGIC = (b"FORM", b"fLaC", b"OggS")
HEADER_TIMEOUT_S = 20.0
# How far the decoded length may stray from the header's before the file counts as lying
# (longer) or truncated (shorter): decoder delay and padding are a few milliseconds.
LENGTH_TOLERANCE_S = 0.2


def _sniff(path: Path) -> bytes:
    with path.open("rb") as stream:
        return stream.read(12)


# WAV codecs libsndfile decodes without libmpg123: PCM, float, A-law, mu-law (plain, or as
# the sub-format of WAVE_FORMAT_EXTENSIBLE). A WAV holding MP3 (0x55) goes to ffmpeg.
_SNDFILE_WAV_CODECS = {0x0001, 0x0003, 0x0006, 0x0007}


def _wav_codec(path: Path) -> int | None:
    """The fmt chunk's format tag of a little-endian RIFF/RF64 WAVE file (None if none)."""
    with path.open("rb") as stream:
        stream.seek(12)
        for _ in range(64):  # a few chunks come before fmt at most
            chunk = stream.read(8)
            if len(chunk) < 8:
                return None
            size = struct.unpack("<I", chunk[4:])[0]
            if chunk[:4] == b"fmt ":
                fmt = stream.read(min(size, 40))
                if len(fmt) < 2:
                    return None
                tag = struct.unpack("<H", fmt[:2])[0]
                if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the GUID's first two bytes
                    return struct.unpack("<H", fmt[24:26])[0] if len(fmt) >= 26 else None
                return tag
            stream.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _uses_sndfile(path: Path) -> bool:
    head = _sniff(path)
    if head[:4] in {b"RIFF", b"RF64"}:
        return head[8:12] == b"WAVE" and _wav_codec(path) in _SNDFILE_WAV_CODECS
    if head[:4] == b"RIFX":
        return False
    if head[:4] == b"FORM":
        return head[8:12] in {b"AIFF", b"AIFC"}
    return head[:4] in _SNDFILE_MAGIC


def clock(seconds: float) -> str:
    """3725 -> "1:02:05", 61 -> "1:01"."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60}:{rest % 60:02d}"


def _length(seconds: float) -> str:
    """A length in messages: "4.2 s" under a minute (a cut is often short), else clock."""
    return f"{seconds:.1f} s" if seconds < 60 else clock(seconds)


def _header_sndfile(path: Path, name: str) -> AudioInfo:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{name}: not an audio file we can read.") from error
    declared_end = _declared_riff_data_end(path)
    if declared_end is not None and declared_end > path.stat().st_size:
        raise AudioError(f"{name}: the file is truncated (its header promises more audio).")
    if info.frames >= 2**62:  # libsndfile's "unknown" (a FLAC stream with no total)
        raise AudioError(f"{name}: its header does not say how long the song is.")
    container = _SNDFILE_CONTAINERS.get(info.format, info.format.lower()) or UNKNOWN
    return AudioInfo(
        duration_s=info.frames / info.samplerate if info.samplerate > 0 else 0.0,
        sample_rate=info.samplerate,
        channels=info.channels,
        container=container,
        codec=info.subtype.lower() or UNKNOWN,
        frames=info.frames,
        subtype=info.subtype,
    )


_FFMPEG_DURATION = re.compile(r"^\[info\] +Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)", re.M)
_FFMPEG_STREAM = re.compile(r"^\[info\] +Stream #0:\d+\S*: Audio: (.*)$", re.M)
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "downmix": 2}


def _layout_channels(layout: str) -> int:
    layout = layout.strip()
    if match := re.fullmatch(r"(\d+) channels(?: \(.*\))?", layout):
        return int(match[1])
    return _LAYOUT_CHANNELS.get(layout, MAX_CHANNELS + 1)  # 2.1, 5.1(side), quad, ...


def _header_ffmpeg(path: Path, name: str) -> AudioInfo:
    """What ffmpeg's demuxer reads of the header (``ffmpeg -i file``, no output, no decode)."""
    command = [
        *(_ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info"),
        *("-i", str(path)),
    ]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=HEADER_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as error:
        raise AudioError(f"{name}: its header took too long to read.") from error
    report = result.stderr
    container, codec = _ffmpeg_input(report)
    stream = _FFMPEG_STREAM.search(report)
    if container == UNKNOWN or stream is None:
        raise AudioError(f"{name}: not an audio file we can read.")
    fields = [field.strip() for field in stream[1].split(",")]
    rate_field = next((i for i, field in enumerate(fields) if re.fullmatch(r"\d+ Hz", field)), None)
    if rate_field is None or rate_field + 1 >= len(fields):
        raise AudioError(f"{name}: its header gives no sample rate.")
    rate = int(fields[rate_field].split()[0])
    channels = _layout_channels(fields[rate_field + 1])
    duration = _FFMPEG_DURATION.search(report)
    if duration is None or duration[1] is None:
        raise AudioError(f"{name}: its header does not say how long the song is.")
    seconds = int(duration[1]) * 3600 + int(duration[2]) * 60 + float(duration[3])
    return AudioInfo(
        duration_s=seconds,
        sample_rate=rate,
        channels=channels,
        container=container,
        codec=codec,
        frames=round(seconds * rate),
        subtype="FLOAT",
        estimated="Estimating duration from bitrate" in report,
    )


def _check_header(info: AudioInfo, name: str, limits: Limits) -> None:
    """Refuse, with a one-line reason, a header that promises unusable or too much audio."""
    channels, rate = info.channels, info.sample_rate
    if channels < 1:
        raise AudioError(f"{name}: its header says the song has no channels.")
    if channels > MAX_CHANNELS:
        raise AudioError(f"{name}: {channels} channels; only mono and stereo songs are supported.")
    highest = min(MAX_SAMPLE_RATE, limits.max_sample_rate or MAX_SAMPLE_RATE)
    if rate < MIN_SAMPLE_RATE or rate > highest:
        raise AudioLimitError(
            f"{name}: unsupported sample rate {rate} Hz "
            f"(from {MIN_SAMPLE_RATE} to {highest} Hz are accepted)."
        )
    if info.frames <= 0:
        raise AudioError(f"{name}: the file holds no audio.")
    if limits.max_duration_s is not None and info.duration_s > limits.max_duration_s:
        length, limit = clock(info.duration_s), clock(limits.max_duration_s)
        raise AudioLimitError(f"{name}: {length} long; the limit is {limit}.")
    if limits.max_samples is not None and info.frames * channels > limits.max_samples:
        millions, limit = info.frames * channels / 1e6, limits.max_samples / 1e6
        raise AudioLimitError(
            f"{name}: too much audio to process: {clock(info.duration_s)} at {rate} Hz, "
            f"{channels} channel{'s' if channels > 1 else ''} ({millions:.1f} million samples; "
            f"the limit is {limit:.1f} million)."
        )


def read_header(
    path: str | os.PathLike, *, name: str | None = None, limits: Limits = NO_LIMITS
) -> AudioInfo:
    """The file's length, rate, channels and format from its header alone (milliseconds,
    nothing decoded), checked against ``limits``; or AudioError with a one-line reason."""
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise AudioError(f"{name}: file not found.")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: the file is empty.")
    reader = _header_sndfile if _uses_sndfile(path) else _header_ffmpeg
    info = reader(path, name)
    _check_header(info, name, limits)
    return info


def _ceiling(header: AudioInfo, limits: Limits) -> int:
    """The most frames a decode of this file may give before it counts as lying."""
    budget = limits.max_frames(header.sample_rate, header.channels)
    if header.estimated:  # a guess from the bit rate: only the budget bounds it
        return budget if budget is not None else header.frames * 2
    promised = header.frames + int(LENGTH_TOLERANCE_S * header.sample_rate)
    return promised if budget is None else min(promised, budget + 1)


def _too_long(name: str, header: AudioInfo, frames: int) -> AudioError:
    stopped = _length(frames / header.sample_rate)
    if header.estimated:
        return AudioLimitError(f"{name}: the audio goes on past the limit (stopped at {stopped}).")
    return AudioError(
        f"{name}: the file holds more audio than its header says "
        f"(it claims {_length(header.duration_s)}; stopped at {stopped})."
    )


def _check_decoded_length(name: str, header: AudioInfo, frames: int) -> None:
    """A decode that ended short of what the header promised is a truncated file."""
    if header.estimated:
        return
    if frames < header.frames - int(LENGTH_TOLERANCE_S * header.sample_rate):
        raise AudioError(
            f"{name}: the file is truncated (its header promises "
            f"{_length(header.duration_s)} of audio; it ends at "
            f"{_length(frames / header.sample_rate)})."
        )


@contextlib.contextmanager
def decodable(
    path: str | os.PathLike, *, name: str | None = None, limits: Limits = NO_LIMITS
) -> Iterator[Readable]:
    """Yield what soundfile can read: the file itself, or a temporary WAV decoded by ffmpeg.

    The header is read and checked first (:func:`read_header`); ffmpeg's decode stops at the
    readable's ``ceiling``. ``name`` is what error messages call the file (default: its name).
    """
    path = Path(path)
    name = name or path.name
    header = read_header(path, name=name, limits=limits)
    ceiling = _ceiling(header, limits)
    if _uses_sndfile(path):
        yield Readable(path, header.container, header.codec, header, ceiling)
        return
    with tempfile.TemporaryDirectory(prefix="jamwithme-decode-") as tmp:
        target = Path(tmp) / "decoded.wav"
        rate, channels = header.sample_rate, header.channels
        # One frame past the ceiling tells a lying file from one that merely fills it; the
        # output size cap is a second fence should the stream change shape on the way.
        limit_s = (ceiling + 1) / rate
        max_bytes = (ceiling + rate) * channels * 4 + 65536
        command = [
            *(_ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info"),
            *("-i", str(path), "-map", "0:a:0", "-vn", "-c:a", "pcm_f32le"),
            *("-ar", str(rate), "-ac", str(channels), "-t", f"{limit_s:.6f}"),
            *("-fs", str(max_bytes), "-f", "wav", str(target)),
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, errors="replace", check=False
        )
        if result.returncode != 0 or not target.is_file():
            raise AudioError(f"{name}: not an audio file we can read.")
        try:
            frames = sf.info(str(target)).frames
        except (sf.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"{name}: not an audio file we can read.") from error
        if frames > ceiling:
            raise _too_long(name, header, frames)
        _check_decoded_length(name, header, frames)  # "truncated" says more than an error
        errors = _ffmpeg_errors(result.stderr)
        if errors:
            # ffmpeg names the temporary file or the input path; keep it short and path-free.
            reason = errors[-1].split(": ", 1)[-1][:160]
            raise AudioError(f"{name}: the audio is damaged or truncated ({reason}).")
        exact = replace(header, frames=frames, duration_s=frames / rate, estimated=False)
        yield Readable(target, header.container, header.codec, exact, ceiling)


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


def read_blocks(
    path: Path, name: str, block_frames: int = BLOCK_FRAMES, *, readable: Readable | None = None
) -> Iterator[np.ndarray]:
    """Float32 blocks of shape (frames, channels); a decoding error becomes an AudioError.

    With ``readable`` (from :func:`decodable`), a decode that goes past its ceiling stops
    there, and one that ends short of what the header promised is refused as truncated.
    """
    header = readable.header if readable is not None else None
    ceiling = readable.ceiling if readable is not None else None
    frames = 0
    with _open(path, name) as audio:
        try:
            while True:
                block = audio.read(block_frames, dtype="float32", always_2d=True)
                if not len(block):
                    break
                frames += len(block)
                if header is not None and ceiling is not None and frames > ceiling:
                    raise _too_long(name, header, frames)
                yield block
        except (sf.LibsndfileError, RuntimeError) as error:
            if header is not None:  # a decode that broke off early: say how early
                _check_decoded_length(name, header, frames)
            raise AudioError(f"{name}: the audio is damaged or truncated ({error}).") from error
    if header is not None:
        _check_decoded_length(name, header, frames)


def probe(
    path: str | os.PathLike,
    *,
    scan: bool = True,
    name: str | None = None,
    limits: Limits = NO_LIMITS,
) -> AudioInfo:
    """Describe an audio file, or raise AudioError with a one-line reason.

    Without ``scan`` only the header is read (milliseconds): length, rate and channels are
    checked against ``limits``. With ``scan`` (the default) the whole file is then decoded
    once, in blocks, stopping at the limits, so that damaged, truncated, lying and silent
    files are caught. ``name`` is what messages call the file (the user's name for an
    upload kept under a temporary one).
    """
    name = name or Path(path).name
    if not scan:
        return read_header(path, name=name, limits=limits)
    with decodable(path, name=name, limits=limits) as readable:
        return describe(readable, scan=True, name=name)


def describe(readable: Readable, *, scan: bool = True, name: str) -> AudioInfo:
    """:func:`probe` for a file :func:`decodable` already opened (and its header checked)."""
    header = readable.header
    if header is None:  # a Readable built by hand: check what libsndfile says of it
        header = read_header(readable.path, name=name)
        readable = Readable(readable.path, readable.container, readable.codec, header)
    frames, peak = header.frames, None
    if scan:
        frames, peak = 0, 0.0
        for block in read_blocks(readable.path, name, readable=readable):
            frames += len(block)
            peak = max(peak, float(np.max(np.abs(block))))
        if frames == 0:
            raise AudioError(f"{name}: the file holds no audio.")
    if peak is not None and peak < SILENCE_PEAK:
        raise AudioError(f"{name}: the audio is silent; there is nothing to separate.")
    return replace(header, duration_s=frames / header.sample_rate, frames=frames)


def waveform_peaks(
    path: str | os.PathLike,
    width: int = 800,
    *,
    name: str | None = None,
    limits: Limits = NO_LIMITS,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Per-column (min, max) of the mono mix, shape (width, 2), for drawing a waveform.
    Decoded under the same ``limits`` as the separation (a length the header only estimates
    is bounded by them), with messages naming the file ``name``. ``progress(fraction)`` is
    called after each block decoded."""
    if width <= 0:
        raise ValueError("width must be positive")
    name = name or Path(path).name
    with decodable(path, name=name, limits=limits) as decoded:
        readable = decoded.path
        total = sf.info(str(readable)).frames
        peaks = np.zeros((width, 2), dtype=np.float32)
        if total <= 0:
            return peaks
        position = 0
        for block in read_blocks(readable, name):
            mono = block.mean(axis=1)
            # Sample i belongs to column i * width // total (the last one takes any excess):
            # reduce each column's run of samples in this block at once.
            first = min(position * width // total, width - 1)
            last = min((position + len(mono) - 1) * width // total, width - 1)
            runs = np.arange(first, last + 1)
            starts = np.maximum(-(-runs * total // width) - position, 0)
            filled = np.diff(starts, append=len(mono)) > 0  # more columns than samples: gaps
            runs, starts = runs[filled], starts[filled]
            peaks[runs, 0] = np.minimum(peaks[runs, 0], np.minimum.reduceat(mono, starts))
            peaks[runs, 1] = np.maximum(peaks[runs, 1], np.maximum.reduceat(mono, starts))
            position += len(mono)
            if progress is not None:
                progress(min(1.0, position / total))
        return np.clip(peaks, -1.0, 1.0)


_LOSSY_CODECS = {"mp3", "mpeg_layer_iii", "vorbis", "opus", "aac", "wmav1", "wmav2"}


def output_subtype(info: AudioInfo) -> str:
    """16-bit output for 16-bit (and lossy) input, 24-bit for anything finer."""
    if info.codec in _LOSSY_CODECS:
        return "PCM_16"
    return "PCM_24" if info.subtype in {"PCM_24", "PCM_32", "FLOAT", "DOUBLE"} else "PCM_16"


class PeakTrackingWriter:
    """Writes float32 blocks to a raw temporary file and remembers the peak; then
    :meth:`finalize` converts it to a PCM WAV with one gain.

    Raw samples, not a float WAV: writing and reading them back is a copy, where libsndfile
    converts every sample on the way in and out (~0.15 s of CPU per stem and 5 minutes).
    """

    def __init__(self, path: Path, sample_rate: int, channels: int) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.channels = channels
        self.peak = 0.0
        self.frames = 0
        self._file = path.open("wb")

    def write(self, block: np.ndarray) -> None:
        if len(block):
            block = np.ascontiguousarray(block, dtype=np.float32).reshape(len(block), -1)
            if block.shape[1] != self.channels:
                raise ValueError(f"expected {self.channels} channels, got {block.shape[1]}")
            self.peak = max(self.peak, float(block.max()), -float(block.min()))
            self.frames += len(block)
            self._file.write(memoryview(block).cast("B"))

    def close(self) -> None:
        self._file.close()

    def finalize(
        self,
        target: Path,
        *,
        gain: float,
        subtype: str,
        on_block: Callable[[int], None] | None = None,
    ) -> None:
        """Write ``target``: the samples scaled by ``gain`` (<= 1, chosen so nothing clips)
        as a PCM WAV of ``subtype``; written under a temporary name, then renamed.
        ``on_block(frames)`` is called after each block written (progress)."""
        self.close()
        partial = target.with_name(target.name + ".partial")
        scale = np.float32(gain)
        with (
            self.path.open("rb") as source,
            sf.SoundFile(
                str(partial),
                "w",
                samplerate=self.sample_rate,
                channels=self.channels,
                subtype=subtype,
                format="WAV",
            ) as dst,
        ):
            samples = 4 * BLOCK_FRAMES * self.channels
            while True:
                block = np.fromfile(source, dtype=np.float32, count=samples)
                if not len(block):
                    break
                block = block.reshape(-1, self.channels)
                block *= scale
                dst.write(np.clip(block, -1.0, 1.0, out=block))
                if on_block is not None:
                    on_block(len(block))
        partial.replace(target)
