"""Rendering an export: mix stems at their gains, change tempo and key with Rubber Band, write
it in an export format (`catalog.formats`). Pure audio code (no Django, no app), like `engine`.

Rubber Band runs in its offline, high-quality mode (`pedalboard.time_stretch`), which needs
the whole song in memory: a stereo 44.1 kHz minute is about 21 MB as float32, so the caller
bounds the length (JAM_RENDER_MAX_DURATION_S). Tempo and key are independent: tempo 0.75
makes the song a third longer at the same pitch, +2 semitones raises every frequency by
2^(2/12) (12.2 %) at the same length.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pedalboard
import soundfile as sf
import soxr
from pedalboard.io import AudioFile

from catalog.exports import SEMITONE_RANGE, TEMPO_RANGE
from catalog.formats import DEFAULT_FORMAT, EXPORT_FORMAT_LABELS, get_export_format

PEAK_CEILING = 0.989  # -0.1 dBFS: what we write never clips, also after a lossy encoder's filters
READ_BLOCK = 65_536
# The fractions `render` reports as each phase ends: mixing, stretching (then encoding).
MIXED, STRETCHED = 0.3, 0.8


class RenderError(Exception):
    """A render that cannot be made; the message is one line people can read."""


@dataclass(frozen=True)
class RenderSpec:
    """What to render: stems scaled by their gains, mixed, at ``tempo`` (1 = as recorded)
    and ``semitones`` (0 = as recorded), written as ``fmt``."""

    gains: Sequence[tuple[Path, float]]
    tempo: float = 1.0
    semitones: float = 0.0
    fmt: str = DEFAULT_FORMAT  # a name in catalog.formats

    def check(self) -> None:
        if get_export_format(self.fmt) is None:
            raise RenderError(f"unknown format {self.fmt!r}: choose {EXPORT_FORMAT_LABELS}.")
        if not TEMPO_RANGE[0] <= self.tempo <= TEMPO_RANGE[1]:
            raise RenderError("the tempo must be between 50 % and 150 %.")
        if not SEMITONE_RANGE[0] <= self.semitones <= SEMITONE_RANGE[1]:
            raise RenderError("the key may move from 6 semitones down to 6 up.")
        if not self.gains:
            raise RenderError("there is nothing to mix.")


@dataclass(frozen=True)
class Rendered:
    path: Path
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def _mix(gains: Sequence[tuple[Path, float]], step: Callable[[], None]) -> tuple[np.ndarray, int]:
    """The stems summed at their gains, (channels, frames) float32, read in blocks so only
    the mix is held whole."""
    first = sf.info(str(gains[0][0]))
    rate, channels, frames = first.samplerate, first.channels, first.frames
    mix = np.zeros((channels, frames), dtype=np.float32)
    for path, gain in gains:
        info = sf.info(str(path))
        if info.samplerate != rate or info.channels != channels:
            raise RenderError("the stems do not share one sample rate and channel count.")
        if gain == 0:
            continue
        start = 0
        for block in sf.blocks(str(path), blocksize=READ_BLOCK, dtype="float32", always_2d=True):
            end = min(start + len(block), frames)
            mix[:, start:end] += gain * block[: end - start].T
            start = end
            step()
    return mix, rate


def render(
    spec: RenderSpec,
    out_path: Path,
    *,
    progress: Callable[[float], None] = lambda fraction: None,
    step: Callable[[], None] = lambda: None,
) -> Rendered:
    """Render ``spec`` to ``out_path`` (its suffix is ignored; the format is ``spec.fmt``).

    ``progress(fraction)`` is told each phase as it starts; ``step()`` is called between
    blocks (the caller's heartbeat; it may raise to stop). The stretch itself is one call
    into Rubber Band: the caller runs this in a thread if it must beat meanwhile.
    """
    spec.check()
    fmt = get_export_format(spec.fmt)
    progress(0.0)
    audio, rate = _mix(spec.gains, step)
    progress(MIXED)
    if spec.tempo != 1.0 or spec.semitones != 0:
        audio = pedalboard.time_stretch(
            audio,
            rate,
            stretch_factor=float(spec.tempo),
            pitch_shift_in_semitones=float(spec.semitones),
            high_quality=True,
        )
    step()
    progress(STRETCHED)
    if fmt.max_sample_rate and rate > fmt.max_sample_rate:
        audio = soxr.resample(audio.T, rate, fmt.max_sample_rate, quality="VHQ").T
        audio, rate = audio.astype(np.float32), fmt.max_sample_rate
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > PEAK_CEILING:
        audio *= PEAK_CEILING / peak  # one gain for the whole song: nothing clips
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    channels, frames = audio.shape
    options = {"bit_depth": fmt.bit_depth, "quality": fmt.quality}
    options = {name: value for name, value in options.items() if value is not None}
    out_path = out_path.with_suffix(fmt.extension)
    with AudioFile(str(out_path), "w", rate, channels, **options) as writer:
        for start in range(0, frames, READ_BLOCK * 4):
            writer.write(audio[:, start : start + READ_BLOCK * 4])
            step()
    progress(1.0)
    return Rendered(path=out_path, sample_rate=rate, channels=channels, frames=frames)
