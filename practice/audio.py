"""Rendering an export: mix stems at their gains, change tempo and key with Rubber Band, write
it in an export format (`catalog.formats`). Pure audio code (no Django, no app), like `engine`.

Streamed in pieces, so memory stays flat with the song's length (`bench/render.py` measures
it): each piece of every stem is read and mixed, resampled to the export's rate (48 kHz at
most, `catalog.formats.export_sample_rate`), stretched by Rubber Band's streaming stretcher
(real-time mode, R3 "finer" engine, through pylibrb) and appended to a raw float file in the
caller's folder while its peak is tracked; then that file is read back piece by piece, scaled
by one gain so nothing clips, and written by the encoder piece by piece. The caller's
``step()`` runs between pieces: its heartbeat, its budget, its stop.

Tempo and key are independent: tempo 0.75 makes the song a third longer at the same pitch,
+2 semitones raises every frequency by 2^(2/12) (12.2 %) at the same length. Formants move
with the pitch (as in the player), so a tone keeps its level. The stretcher's start delay is
compensated and its output cut to the exact length, so the beat lands on the stretched grid
(tests/practice/test_audio.py measures the clicks of a click track).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from pedalboard.io import AudioFile
from pylibrb import Option, RubberBandStretcher

from catalog.exports import SEMITONE_RANGE, TEMPO_RANGE
from catalog.formats import (
    DEFAULT_FORMAT,
    EXPORT_FORMAT_LABELS,
    export_sample_rate,
    get_export_format,
)

PEAK_CEILING = 0.989  # -0.1 dBFS: what we write never clips, also after a lossy encoder's filters
# Source frames a piece: about 1.4 s at 48 kHz, 0.34 s at 192 kHz. What a render holds at once,
# and how long it runs between two calls of the caller's step() (its heartbeat and yield).
PIECE_FRAMES = 65_536
# The fraction of `render`'s progress at which the first pass (mix, resample, stretch) ends
# and the encoder's pass begins.
STRETCHED = 0.85
STRETCH_OPTIONS = Option.PROCESS_REALTIME | Option.ENGINE_FINER | Option.CHANNELS_TOGETHER


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


class _Stems:
    """The stems, opened for reading piece by piece; ``read(n)`` gives the next ``n``
    frames of their mix at the gains, (channels, frames) float32 (zeros past a short stem)."""

    def __init__(self, gains: Sequence[tuple[Path, float]]) -> None:
        infos = [sf.info(str(path)) for path, _ in gains]
        self.rate, self.channels, self.frames = (
            infos[0].samplerate,
            infos[0].channels,
            infos[0].frames,
        )
        if any(i.samplerate != self.rate or i.channels != self.channels for i in infos):
            raise RenderError("the stems do not share one sample rate and channel count.")
        self.files = [(sf.SoundFile(str(path)), gain) for path, gain in gains if gain != 0]
        self.done = 0

    def read(self, count: int) -> np.ndarray:
        count = min(count, self.frames - self.done)
        mix = np.zeros((self.channels, count), dtype=np.float32)
        for file, gain in self.files:
            block = file.read(count, dtype="float32", always_2d=True)
            mix[:, : len(block)] += gain * block.T
        self.done += count
        return mix

    def close(self) -> None:
        for file, _ in self.files:
            file.close()


class _Stretcher:
    """Rubber Band's streaming stretcher with its start delay compensated: what goes in at
    frame n comes out at n / tempo."""

    def __init__(self, rate: int, channels: int, *, tempo: float, semitones: float) -> None:
        self.engine = RubberBandStretcher(
            rate,
            channels,
            STRETCH_OPTIONS,
            initial_time_ratio=1 / tempo,
            initial_pitch_scale=2 ** (semitones / 12),
        )
        self.engine.set_max_process_size(PIECE_FRAMES * 2)
        self.channels = channels
        self.engine.process(np.zeros((channels, self.engine.get_preferred_start_pad()), np.float32))
        self.to_skip = self.engine.get_start_delay()

    def process(self, piece: np.ndarray, *, final: bool) -> np.ndarray:
        for start in range(0, max(piece.shape[1], 1), PIECE_FRAMES * 2):
            chunk = np.ascontiguousarray(piece[:, start : start + PIECE_FRAMES * 2])
            self.engine.process(chunk, final=final and start + PIECE_FRAMES * 2 >= piece.shape[1])
        out = [self.engine.retrieve_available()]
        while final and not self.engine.is_done():
            more = self.engine.retrieve_available()
            if not more.shape[1]:
                break
            out.append(more)
        got = np.concatenate(out, axis=1) if len(out) > 1 else out[0]
        skip = min(self.to_skip, got.shape[1])
        self.to_skip -= skip
        return got[:, skip:]


class _RawWriter:
    """Interleaved float32 frames appended to a file, their peak remembered, cut at
    ``limit`` frames."""

    def __init__(self, path: Path, channels: int, limit: int) -> None:
        self.path, self.channels, self.limit = path, channels, limit
        self.file = path.open("wb")
        self.frames = 0
        self.peak = 0.0

    def write(self, piece: np.ndarray) -> None:
        piece = piece[:, : max(0, self.limit - self.frames)]
        if piece.shape[1]:
            self.peak = max(self.peak, float(np.max(np.abs(piece))))
            self.file.write(np.ascontiguousarray(piece.T, dtype=np.float32).tobytes())
            self.frames += piece.shape[1]

    def pad_to_limit(self) -> None:
        """The stretcher's last frames may fall short of the exact length by a few: silence."""
        while self.frames < self.limit:
            self.write(np.zeros((self.channels, min(PIECE_FRAMES, self.limit - self.frames))))

    def pieces(self, frames: int):
        """The file read back, ``frames`` at a time, as (channels, frames) float32."""
        self.file.close()
        with self.path.open("rb") as file:
            while data := file.read(frames * self.channels * 4):
                yield np.frombuffer(data, dtype=np.float32).reshape(-1, self.channels).T


def render(
    spec: RenderSpec,
    out_path: Path,
    *,
    progress: Callable[[float], None] = lambda fraction: None,
    step: Callable[[], None] = lambda: None,
) -> Rendered:
    """Render ``spec`` to ``out_path`` (its suffix is ignored; the format is ``spec.fmt``),
    piece by piece; a raw float file of the stretched mix lives beside it meanwhile.

    ``progress(fraction)`` is told after every piece; ``step()`` is called between pieces
    (the caller's heartbeat, budget and yield; it may raise to stop).
    """
    spec.check()
    fmt = get_export_format(spec.fmt)
    progress(0.0)
    stems = _Stems(spec.gains)
    rate, channels = stems.rate, stems.channels
    out_rate = export_sample_rate(rate)
    if fmt.max_sample_rate:
        out_rate = min(out_rate, fmt.max_sample_rate)
    changes = spec.tempo != 1.0 or spec.semitones != 0
    # The exact length: the song's frames at the export's rate, at the tempo.
    length = round(stems.frames * out_rate / rate / spec.tempo)
    raw = _RawWriter(out_path.with_suffix(".f32"), channels, length)
    try:
        resampler = None
        if out_rate != rate:
            resampler = soxr.ResampleStream(rate, out_rate, channels, dtype="float32", quality="HQ")
        stretcher = None
        if changes:
            stretcher = _Stretcher(out_rate, channels, tempo=spec.tempo, semitones=spec.semitones)
        try:
            while True:
                piece = stems.read(PIECE_FRAMES)
                final = stems.done >= stems.frames
                if resampler is not None:
                    piece = resampler.resample_chunk(piece.T, last=final).T
                if stretcher is not None:
                    piece = stretcher.process(piece, final=final)
                raw.write(piece)
                step()
                progress(STRETCHED * stems.done / max(stems.frames, 1))
                if final:
                    break
        finally:
            stems.close()
        raw.pad_to_limit()
        gain = min(1.0, PEAK_CEILING / raw.peak) if raw.peak else 1.0  # one gain: nothing clips
        options = {"bit_depth": fmt.bit_depth, "quality": fmt.quality}
        options = {name: value for name, value in options.items() if value is not None}
        out_path = out_path.with_suffix(fmt.extension)
        written = 0
        with AudioFile(str(out_path), "w", out_rate, channels, **options) as writer:
            for piece in raw.pieces(PIECE_FRAMES):
                writer.write(np.ascontiguousarray(piece * np.float32(gain)))
                written += piece.shape[1]
                step()
                progress(STRETCHED + (1 - STRETCHED) * written / max(length, 1))
    finally:
        raw.file.close()
        raw.path.unlink(missing_ok=True)
    progress(1.0)
    return Rendered(path=out_path, sample_rate=out_rate, channels=channels, frames=length)
