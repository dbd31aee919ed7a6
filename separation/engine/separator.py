"""The engine: a file (or an array) in, an instrumental and a vocal stem out.

Everything the platform's worker, ``manage.py separate`` and the benchmark do goes through
:class:`Engine`; it imports nothing from Django, Channels or Celery.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from . import audio, dsp
from .audio import AudioInfo
from .errors import AudioError
from .model import UNetModel

Progress = Callable[[float], None]
STEMS = ("vocals", "accompaniment")


@dataclass(frozen=True)
class SeparationResult:
    accompaniment: Path
    vocals: Path
    info: AudioInfo


def _to_stereo(block: np.ndarray) -> np.ndarray:
    if block.shape[1] == 2:
        return block
    return np.repeat(block[:, :1], 2, axis=1)  # mono: the same signal on both sides


def _resampled(blocks: Iterable[np.ndarray], source: int, target: int) -> Iterator[np.ndarray]:
    resampler = _Resampler(source, target)
    for block in blocks:
        out = resampler.push(block)
        if len(out):
            yield out
    out = resampler.push(np.zeros((0, 2), dtype=np.float32), final=True)
    if len(out):
        yield out


def _exact_length(blocks: Iterable[np.ndarray], frames: int) -> Iterator[np.ndarray]:
    """Trim or zero-pad a block stream to exactly ``frames`` samples (resampling rounds)."""
    written = 0
    for block in blocks:
        block = block[: max(0, frames - written)]
        written += len(block)
        if len(block):
            yield block
    if written < frames:
        yield np.zeros((frames - written, 2), dtype=np.float32)


class Engine:
    """Keeps the networks warm; call :meth:`separate_file` for every song."""

    def __init__(
        self,
        plan: dsp.BandPlan = dsp.FULL_BAND,
        *,
        model: UNetModel | None = None,
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.plan = plan
        self.model = model or UNetModel(checkpoint_dir)

    def with_plan(self, plan: dsp.BandPlan) -> Engine:
        """The same warm networks under another band plan."""
        return Engine(plan, model=self.model)

    # -- arrays ---------------------------------------------------------------------------
    def separate_waveform(
        self, waveform: np.ndarray, *, block_frames: int = 1 << 16, segments_per_piece: int = 1
    ) -> dict:
        """(n, 2) float32 at 44.1 kHz -> {"vocals": (n, 2), "accompaniment": (n, 2)}.

        ``segments_per_piece`` large enough to hold the song processes it whole, at once.
        """
        waveform = _to_stereo(np.asarray(waveform, dtype=np.float32).reshape(len(waveform), -1))
        blocks = (waveform[i : i + block_frames] for i in range(0, len(waveform), block_frames))
        parts: dict[str, list[np.ndarray]] = {name: [] for name in STEMS}
        separator = dsp.StreamingSeparator(
            self.model.predict, self.plan, segments_per_piece=segments_per_piece
        )
        for vocals, accompaniment in separator.run(blocks):
            parts["vocals"].append(vocals)
            parts["accompaniment"].append(accompaniment)
        empty = np.zeros((0, 2), dtype=np.float32)
        return {name: np.concatenate(parts[name]) if parts[name] else empty for name in STEMS}

    # -- files ----------------------------------------------------------------------------
    def separate_file(
        self,
        source: str | os.PathLike,
        out_dir: str | os.PathLike,
        *,
        progress: Progress | None = None,
        max_duration_s: float | None = None,
        name: str | None = None,
    ) -> SeparationResult:
        """Write ``out_dir/accompaniment.wav`` and ``out_dir/vocals.wav`` for one song.

        The WAVs have the input's sample rate and channel count (mono stays mono). Either both
        files are there afterwards or neither is: a failure leaves nothing half-written.
        ``name`` is what error messages call the song (default: the file's name).
        """
        source = Path(source)
        out_dir = Path(out_dir)
        name = name or source.name
        report = progress or (lambda fraction: None)
        with audio.decodable(source, name=name) as readable:
            info = audio.probe(readable, scan=False, name=name)
            report(0.0)
            if max_duration_s is not None and info.duration_s > max_duration_s:
                length, limit = _clock(info.duration_s), _clock(max_duration_s)
                raise AudioError(f"{name}: {length} long; the limit is {limit}.")
            out_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".separating-", dir=out_dir) as scratch:
                result = self._separate_stream(readable, name, info, Path(scratch), report)
                targets = {stem: out_dir / f"{stem}.wav" for stem in STEMS}
                gain = min(1.0, 0.999 / max(result["peak"], 1e-12))
                subtype = audio.output_subtype(info)
                try:
                    for stem in STEMS:
                        audio.finalize_wav(result[stem], targets[stem], gain=gain, subtype=subtype)
                except BaseException:
                    for target in targets.values():
                        target.unlink(missing_ok=True)
                    raise
        report(1.0)
        return SeparationResult(targets["accompaniment"], targets["vocals"], info)

    def _separate_stream(
        self, readable: Path, name: str, info: AudioInfo, scratch: Path, report: Progress
    ) -> dict:
        rate = info.sample_rate
        model_frames = max(1, round(info.frames * dsp.SAMPLE_RATE / rate))
        total_network_frames = -(-(model_frames + dsp.FRAME) // dsp.HOP)
        done = 0
        silent_input = True

        def on_frames(count: int) -> None:
            nonlocal done
            done += count
            report(min(0.99, done / total_network_frames))

        def decoded() -> Iterator[np.ndarray]:
            nonlocal silent_input
            for block in audio.read_blocks(readable, name):
                if silent_input and len(block) and np.max(np.abs(block)) >= audio.SILENCE_PEAK:
                    silent_input = False
                yield _to_stereo(block)

        model_input = _exact_length(_resampled(decoded(), rate, dsp.SAMPLE_RATE), model_frames)
        stems = dsp.StreamingSeparator(self.model.predict, self.plan).run(
            model_input, on_frames=on_frames
        )
        writers = {
            stem: audio.PeakTrackingWriter(scratch / f"{stem}.f32.wav", rate, info.channels)
            for stem in STEMS
        }
        try:
            # Both stems go back to the input's rate through their own resampler.
            back = {stem: _Resampler(dsp.SAMPLE_RATE, rate) for stem in STEMS}

            def emit(stem: str, block: np.ndarray, *, final: bool = False) -> None:
                block = back[stem].push(block, final=final)
                block = block[: max(0, info.frames - writers[stem].frames)]
                if info.channels == 1:
                    block = block.mean(axis=1, keepdims=True)
                writers[stem].write(block)

            for vocals, accompaniment in stems:
                emit("vocals", vocals)
                emit("accompaniment", accompaniment)
            for stem in STEMS:
                emit(stem, np.zeros((0, 2), dtype=np.float32), final=True)
                if writers[stem].frames < info.frames:
                    pad = np.zeros((info.frames - writers[stem].frames, 2), dtype=np.float32)
                    emit(stem, pad)
        finally:
            for writer in writers.values():
                writer.close()
        if silent_input:
            raise AudioError(f"{name}: the audio is silent; there is nothing to separate.")
        peak = max(writer.peak for writer in writers.values())
        return {"peak": peak, **{stem: writers[stem].path for stem in STEMS}}


class _Resampler:
    def __init__(self, source: int, target: int) -> None:
        self._stream = (
            None
            if source == target
            else soxr.ResampleStream(source, target, 2, dtype="float32", quality="HQ")
        )

    def push(self, block: np.ndarray, *, final: bool = False) -> np.ndarray:
        if self._stream is None:
            return block
        return self._stream.resample_chunk(np.ascontiguousarray(block), last=final)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide warm engine (TensorFlow graph and weights loaded on first use)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
