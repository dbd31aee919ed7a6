"""The engine: a file (or an array) in, the registry's stems (instrumental, vocals) out.

Everything the platform's worker, ``manage.py separate`` and the benchmark do goes through
:class:`Engine`; it imports nothing from Django, Channels or Celery.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soxr

from catalog.stems import STEMS

from . import audio, dsp
from .audio import AudioInfo
from .batching import BatchingModel
from .errors import AudioError
from .model import UNetModel

Progress = Callable[[float], None]
# The share of `separate_file`'s progress that the networks take; writing the stems out
# (gain, then PCM) takes the rest. Measured on a 3-minute song: 12 s, then 1 s.
NETWORK_SHARE = 0.92


@dataclass(frozen=True)
class SeparationResult:
    """``stems`` maps each registry name ("instrumental", "vocals"), in registry order, to the
    WAV written for it: ``out_dir/<stem.output>.wav`` (the Spleeter CLI's layout)."""

    stems: dict[str, Path]
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
        model: UNetModel | BatchingModel | None = None,
        model_root: Path | None = None,
        threads: int | None = None,
    ) -> None:
        """``model_root`` holds ``2stems/`` (None: the default folder); ``threads``: the cores
        the networks use (None or 0: all). Both are ignored when a warm ``model`` is given."""
        self.plan = plan
        self.model = model or UNetModel(model_root, threads=threads)

    @property
    def concurrency(self) -> int:
        """Pieces in the network at once: the model's streams (1 for a model without)."""
        return getattr(self.model, "streams", 1)

    def with_plan(self, plan: dsp.BandPlan) -> Engine:
        """The same warm networks under another band plan."""
        return Engine(plan, model=self.model)

    # -- arrays ---------------------------------------------------------------------------
    def separate_waveform(
        self, waveform: np.ndarray, *, block_frames: int = 1 << 16, segments_per_piece: int = 1
    ) -> dict:
        """(n, 2) float32 at 44.1 kHz -> {"vocals": (n, 2), "accompaniment": (n, 2)}.

        Keyed by the network outputs' Spleeter names (``Stem.output``), not by stem names, so
        the result compares directly with ``spleeter.separator.Separator.separate``.
        ``segments_per_piece`` large enough to hold the song processes it whole, at once.
        """
        waveform = _to_stereo(np.asarray(waveform, dtype=np.float32).reshape(len(waveform), -1))
        blocks = (waveform[i : i + block_frames] for i in range(0, len(waveform), block_frames))
        parts: dict[str, list[np.ndarray]] = {output: [] for output in dsp.OUTPUTS}
        separator = dsp.StreamingSeparator(
            self.model.predict,
            self.plan,
            segments_per_piece=segments_per_piece,
            concurrency=self.concurrency,
        )
        for estimates in separator.run(blocks):
            for output, block in zip(dsp.OUTPUTS, estimates, strict=True):
                parts[output].append(block)
        empty = np.zeros((0, 2), dtype=np.float32)
        return {output: np.concatenate(got) if got else empty for output, got in parts.items()}

    # -- files ----------------------------------------------------------------------------
    def separate_file(
        self,
        source: str | os.PathLike,
        out_dir: str | os.PathLike,
        *,
        progress: Progress | None = None,
        max_duration_s: float | None = None,
        name: str | None = None,
        limits: audio.Limits | None = None,
        quality: str = "standard",
    ) -> SeparationResult:
        """Write ``out_dir/accompaniment.wav`` and ``out_dir/vocals.wav`` for one song.

        The result's ``stems`` maps "instrumental" and "vocals" to those two files. The WAVs
        have the input's sample rate and channel count (mono stays mono). Either both files
        are there afterwards or neither is: a failure leaves nothing half-written. ``name`` is
        what error messages call the song (default: the file's name).

        ``limits`` bound the decode (``max_duration_s``, if given, overrides theirs): the
        header is checked against them before anything is decoded, and the decode stops as
        soon as it goes past them or past what the header promised; a file that ends short
        of its header is refused as truncated, never padded with silence.

        ``quality``: a name in ``dsp.QUALITIES`` ("cleaner" adds the Wiener filter).
        """
        if quality not in dsp.QUALITIES:
            raise ValueError(f"unknown quality {quality!r}: one of {', '.join(dsp.QUALITIES)}")
        plan = replace(self.plan, wiener_iterations=dsp.QUALITIES[quality])
        source = Path(source)
        out_dir = Path(out_dir)
        name = name or source.name
        report = progress or (lambda fraction: None)
        limits = limits or audio.NO_LIMITS
        if max_duration_s is not None:
            limits = replace(limits, max_duration_s=max_duration_s)
        with audio.decodable(source, name=name, limits=limits) as readable:
            info = audio.describe(readable, scan=False, name=name)
            report(0.0)
            out_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".separating-", dir=out_dir) as scratch:
                peak, written = self._separate_stream(
                    readable,
                    name,
                    info,
                    Path(scratch),
                    lambda done: report(done * NETWORK_SHARE),
                    plan,
                )
                targets = {stem.name: out_dir / f"{stem.output}.wav" for stem in STEMS}
                gain = min(1.0, 0.999 / max(peak, 1e-12))
                subtype = audio.output_subtype(info)
                to_write = max(1, info.frames * len(STEMS))
                finalized = 0

                def on_block(frames: int) -> None:
                    nonlocal finalized
                    finalized += frames
                    share = min(0.99, finalized / to_write)
                    report(NETWORK_SHARE + (1.0 - NETWORK_SHARE) * share)

                try:
                    # One thread per stem: libsndfile's conversion releases the GIL. The
                    # threads only count what they wrote; progress is reported from here,
                    # the caller's thread (a report may write to a database, or stop the run).
                    lock = threading.Lock()
                    counted = 0

                    def count(frames: int) -> None:
                        nonlocal counted
                        with lock:
                            counted += frames

                    with ThreadPoolExecutor(len(STEMS), thread_name_prefix="encode") as pool:
                        encoded = [
                            pool.submit(
                                written[stem.name].finalize,
                                targets[stem.name],
                                gain=gain,
                                subtype=subtype,
                                on_block=count,
                            )
                            for stem in STEMS
                        ]
                        pending = set(encoded)
                        while pending:
                            _, pending = wait(pending, timeout=0.25)
                            with lock:
                                frames, counted = counted, 0
                            if frames:
                                on_block(frames)
                        for future in encoded:
                            future.result()
                except BaseException:
                    for target in targets.values():
                        target.unlink(missing_ok=True)
                    raise
        report(1.0)
        return SeparationResult(stems=targets, info=info)

    def _separate_stream(
        self,
        readable: audio.Readable,
        name: str,
        info: AudioInfo,
        scratch: Path,
        report: Progress,
        plan: dsp.BandPlan,
    ) -> tuple[float, dict[str, audio.PeakTrackingWriter]]:
        """Separate into temporary float files; return their common peak and the writers
        ({stem name: writer}), closed, ready to :meth:`~audio.PeakTrackingWriter.finalize`."""
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
            # Stops past the header's length (or the limits), refuses a truncated file.
            for block in audio.read_blocks(readable.path, name, readable=readable):
                if silent_input and len(block) and np.max(np.abs(block)) >= audio.SILENCE_PEAK:
                    silent_input = False
                yield _to_stereo(block)

        model_input = _exact_length(_resampled(decoded(), rate, dsp.SAMPLE_RATE), model_frames)
        separator = dsp.StreamingSeparator(self.model.predict, plan, concurrency=self.concurrency)
        estimates = separator.run(model_input, on_frames=on_frames)
        names = [stem.name for stem in STEMS]
        writers = {
            stem: audio.PeakTrackingWriter(scratch / f"{stem}.f32", rate, info.channels)
            for stem in names
        }
        try:
            # Each stem goes back to the input's rate through its own resampler.
            back = {stem: _Resampler(dsp.SAMPLE_RATE, rate) for stem in names}

            def emit(stem: str, block: np.ndarray, *, final: bool = False) -> None:
                block = back[stem].push(block, final=final)
                block = block[: max(0, info.frames - writers[stem].frames)]
                if info.channels == 1:
                    block = block.mean(axis=1, keepdims=True)
                writers[stem].write(block)

            for blocks in estimates:
                by_output = dict(zip(dsp.OUTPUTS, blocks, strict=True))
                for stem in STEMS:
                    emit(stem.name, by_output[stem.output])
            for stem in names:
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
        return peak, writers


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


_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine(
    *,
    model_root: Path | None = None,
    threads: int | None = None,
    device: str = "cpu",
    batch: int = 0,
) -> Engine:
    """The process-wide warm engine, loaded on the first call with that call's arguments:
    ``device`` ("cpu", "cuda", "cuda:N"); ``batch`` > 0 runs the pieces of the songs this
    process separates at once as batches of up to that many segments (a GPU worker).

    Later calls return the same engine whatever they pass: a process runs one model.
    """
    global _engine
    with _engine_lock:
        if _engine is None:
            model = UNetModel(model_root, threads=threads, device=device)
            _engine = Engine(model=BatchingModel(model, max_batch=batch) if batch else model)
        return _engine
