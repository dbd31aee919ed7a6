"""Decoding, checking and writing audio, streamed in blocks so memory stays flat at any length.

libsndfile (through soundfile) reads WAV (16/24/32-bit int, float), AIFF, FLAC, Ogg and MP3
itself. Anything else (m4a/AAC, ...) is first decoded to a temporary float WAV by the static
ffmpeg binary that ships in the ``imageio-ffmpeg`` wheel, so no system ffmpeg is needed.
"""

from __future__ import annotations

import contextlib
import os
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


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    format: str  # e.g. "WAV PCM_16", "FLAC PCM_24", "MP3 MPEG_LAYER_III", "decoded by ffmpeg"
    frames: int = 0
    subtype: str = ""


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
def decodable(path: str | os.PathLike, *, name: str | None = None) -> Iterator[Path]:
    """Yield a path soundfile can read: the file itself, or a temporary WAV decoded by ffmpeg.

    ``name`` is what error messages call the file (default: its own name).
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise AudioError(f"{name}: file not found.")
    if path.stat().st_size == 0:
        raise AudioError(f"{name}: the file is empty.")
    try:
        sf.info(str(path))
    except sf.LibsndfileError:
        pass
    else:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="jamwithme-decode-") as tmp:
        target = Path(tmp) / "decoded.wav"
        command = [
            *(_ffmpeg_exe(), "-nostdin", "-hide_banner", "-v", "error", "-i", str(path)),
            *("-map", "0:a:0", "-vn", "-c:a", "pcm_f32le", "-f", "wav", str(target)),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not target.is_file():
            raise AudioError(f"{name}: not an audio file we can read.")
        if result.stderr.strip():
            raise AudioError(f"{name}: the audio is damaged or truncated ({_first_line(result)}).")
        yield target


def _first_line(result: subprocess.CompletedProcess) -> str:
    lines = [line.strip() for line in (result.stderr or "").splitlines() if line.strip()]
    text = lines[-1] if lines else f"ffmpeg exit status {result.returncode}"
    # ffmpeg names the temporary file or the input path; keep the message short and path-free.
    return text.split(": ", 1)[-1][:160]


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
        _check_riff_length(readable, name)
        info = sf.info(str(readable))  # decodable() made sure libsndfile can open it
        channels, rate = info.channels, info.samplerate
        via_ffmpeg = readable != Path(path)
        fmt = "decoded by ffmpeg" if via_ffmpeg else f"{info.format} {info.subtype}"
        if channels > MAX_CHANNELS:
            raise AudioError(
                f"{name}: {channels} channels; only mono and stereo songs are supported."
            )
        if rate < 8000 or rate > 384000:
            raise AudioError(f"{name}: unsupported sample rate {rate} Hz.")
        frames, peak = info.frames, None
        if scan:
            frames, peak = 0, 0.0
            for block in read_blocks(readable, name):
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
            format=fmt,
            frames=frames,
            subtype="FLOAT" if via_ffmpeg else info.subtype,
        )


def waveform_peaks(path: str | os.PathLike, width: int = 800) -> np.ndarray:
    """Per-column (min, max) of the mono mix, shape (width, 2), for drawing a waveform."""
    if width <= 0:
        raise ValueError("width must be positive")
    name = Path(path).name
    with decodable(path) as readable:
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
