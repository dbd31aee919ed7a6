"""Test doubles for the separation engine, following its contract (separation.engine).

`FakeEngine` writes real WAV files, so everything after separation (storage, waveforms,
downloads) runs for real. The fallback probe and peaks stand in only while the engine
module does not provide them yet.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf


@dataclass(frozen=True)
class FakeAudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    format: str


@dataclass(frozen=True)
class FakeResult:
    accompaniment: Path
    vocals: Path
    info: FakeAudioInfo


class FallbackAudioError(Exception):
    pass


class FallbackModelError(Exception):
    pass


def write_wav(path: Path, *, seconds: float = 1.0, sample_rate: int = 44100, channels: int = 2):
    """A short stereo sine tone, a valid WAV file."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1).astype(np.float32)
    sf.write(path, data, sample_rate, subtype="PCM_16")
    return path


def fallback_probe(path):
    from separation import engine

    try:
        info = sf.info(str(path))
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise engine.AudioError("This file is not audio we can decode.") from exc
    if len(data) == 0:
        raise engine.AudioError("The file contains no audio.")
    if not np.any(np.abs(data) > 1e-4):
        raise engine.AudioError("The audio is silent.")
    return FakeAudioInfo(
        duration_s=len(data) / info.samplerate,
        sample_rate=info.samplerate,
        channels=info.channels,
        format=info.format.lower(),
    )


def fallback_waveform_peaks(path, width=800):
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    columns = np.array_split(mono, width)
    return np.array(
        [(c.min(), c.max()) if len(c) else (0.0, 0.0) for c in columns], dtype=np.float32
    )


class FakeEngine:
    """Halves the input into 'accompaniment' and 'vocals'; optionally fails or stalls."""

    def __init__(self, *, fail_with: Exception | None = None, on_progress=None):
        self.fail_with = fail_with
        self.on_progress = on_progress
        self.calls: list[Path] = []

    def separate_file(self, src_path, out_dir, progress=None, max_duration_s=None):
        from separation import engine

        self.calls.append(Path(src_path))
        if self.fail_with is not None:
            raise self.fail_with
        data, rate = sf.read(str(src_path), dtype="float32", always_2d=True)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for fraction in (0.25, 0.5, 1.0):
            if self.on_progress is not None:
                self.on_progress(fraction)
            if progress is not None:
                progress(fraction)
        accompaniment = out_dir / "accompaniment.wav"
        vocals = out_dir / "vocals.wav"
        sf.write(accompaniment, data * 0.5, rate)
        sf.write(vocals, data * 0.5, rate)
        return FakeResult(accompaniment=accompaniment, vocals=vocals, info=engine.probe(src_path))
