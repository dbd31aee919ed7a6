"""Spleeter's signal chain in NumPy, streamed: STFT, ratio masks, inverse STFT.

It reproduces ``spleeter.model.EstimatorSpecBuilder`` step by step: 4096-sample periodic Hann
frames every 1024 samples over the waveform with 4096 zeros in front (``pad_end`` at the back),
magnitudes of the lowest F bins cut into 512-frame segments from frame 0, the ratio masks
``(y_i**2 + eps/2) / (sum_j y_j**2 + eps)``, masked STFT, inverse STFT by windowed overlap-add
scaled by 2/3, and the result cropped to the input's length.

Streaming changes nothing in that arithmetic: pieces are whole 512-frame segments, each frame
is computed from the full waveform around it, and overlap-add carries the last 3072 samples of
one piece into the next. So a song processed in pieces gives the same samples as the whole
song at once, with memory bounded by one segment.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

SAMPLE_RATE = 44100
FRAME = 4096
HOP = 1024
OVERLAP = FRAME // HOP  # 4 frames cover each sample
BINS = FRAME // 2 + 1
SEGMENT = 512
WINDOW_COMPENSATION = 2.0 / 3.0
EPSILON = 1e-10
_n = np.arange(FRAME, dtype=np.float64)
WINDOW = (0.5 - 0.5 * np.cos(2.0 * np.pi * _n / FRAME)).astype(np.float32)  # periodic Hann
SYNTHESIS_WINDOW = WINDOW * np.float32(WINDOW_COMPENSATION)

# The networks' outputs, by Spleeter's names, in the order the model and this module give them.
OUTPUTS = ("vocals", "accompaniment")
Predict = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class BandPlan:
    """Which STFT bins the network sees and how the masks are extended above them.

    ``model_bins``: 1024 reproduces Spleeter's ``2stems`` (0-11 kHz), 1536 its ``2stems-16kHz``.
    ``extension``: "zeros" is Spleeter's (nothing above the model band in either stem);
    "top" gives each bin above the band the mean mask of the top ``top_bins`` bins the network
    did see, frame by frame and channel by channel, so cymbals keep their air while a frame
    whose top band the network gave to the voice (sibilants) stays out of the jam track.
    ``segment_padding``: "spleeter" pads the last segment to 512 frames like Spleeter;
    "minimal" pads it only to a multiple of 64 frames (less arithmetic on the last piece).
    ``wiener_iterations`` > 0: the networks' estimates go through norbert's multichannel
    Wiener filter (Spleeter's ``--mwf``: that many EM iterations) over the model band
    before the masks are applied; 0, the ratio masks alone.
    """

    model_bins: int = 1024
    extension: str = "top"
    top_bins: int = 128
    segment_padding: str = "minimal"
    wiener_iterations: int = 0

    def __post_init__(self) -> None:
        if self.model_bins % 64 or not 64 <= self.model_bins <= BINS - 1:
            raise ValueError("model_bins must be a multiple of 64 below 2049")
        if self.extension not in {"zeros", "top"}:
            raise ValueError(f"unknown extension {self.extension!r}")
        if self.segment_padding not in {"spleeter", "minimal"}:
            raise ValueError(f"unknown segment padding {self.segment_padding!r}")
        if self.wiener_iterations and self.extension != "top":
            raise ValueError("the Wiener filter needs the top-band extension")


SPLEETER_2STEMS = BandPlan(model_bins=1024, extension="zeros", segment_padding="spleeter")
FULL_BAND = BandPlan()
# The qualities a musician may choose, by the Wiener filter's EM iterations: "cleaner" leaves
# less of the singer in the jam track, at a cost in time and a little in SDR and highs
# (bench/postfilter.py; docs/engine.md, "Quality").
QUALITIES = {"standard": 0, "cleaner": 1}


def ratio_masks(vocals: np.ndarray, accompaniment: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spleeter's masks with separation exponent 2, in float32 like its graph."""
    v2 = np.square(vocals)
    a2 = np.square(accompaniment)
    total = v2 + a2 + np.float32(EPSILON)
    half_eps = np.float32(EPSILON / 2)
    return (v2 + half_eps) / total, (a2 + half_eps) / total


def accompaniment_mask(vocals: np.ndarray, accompaniment: np.ndarray) -> np.ndarray:
    """The second of :func:`ratio_masks` alone, computed the same way (the same floats)."""
    v2 = np.square(vocals)
    a2 = np.square(accompaniment)
    total = v2 + a2
    total += np.float32(EPSILON)
    a2 += np.float32(EPSILON / 2)
    a2 /= total
    return a2


def _wiener_accompaniment(
    band: np.ndarray, estimates: list[np.ndarray], iterations: int
) -> np.ndarray:
    """The accompaniment's (2, frames, F) spectrum by norbert's multichannel Wiener filter, as
    Spleeter's ``--mwf`` does it: the networks' estimates are the sources' spectrograms, a
    soft mask the first guess, then ``iterations`` EM steps. Its spatial covariances are per
    frequency bin, so the model band alone gives those bins what the full band would; they
    are estimated over a piece (512 frames), where Spleeter takes the whole song."""
    import norbert

    sources = np.stack([np.transpose(e, (1, 2, 0)) for e in estimates], axis=-1)
    mixture = np.transpose(band, (1, 2, 0)).copy()  # (frames, F, channels); norbert scales it
    filtered = norbert.wiener(sources, mixture, iterations)
    return np.transpose(filtered[..., 1], (2, 0, 1)).astype(np.complex64)


def extend_masks(mask: np.ndarray, plan: BandPlan) -> np.ndarray:
    """A (2, frames, F) mask -> (2, frames, 2049): Spleeter's zeros, or the top band's mean."""
    channels, frames, bins = mask.shape
    full = np.empty((channels, frames, BINS), dtype=np.float32)
    full[:, :, :bins] = mask
    if plan.extension == "zeros":
        full[:, :, bins:] = 0.0
    else:
        full[:, :, bins:] = mask[:, :, bins - plan.top_bins :].mean(axis=2, keepdims=True)
    return full


@dataclass
class _Piece:
    samples: np.ndarray  # the padded input under this piece's hops, (2, frames * HOP)
    frames: int
    spectrum: np.ndarray  # (2, frames, BINS) complex64; the synthesis masks it in place
    magnitude: np.ndarray  # (2, frames, F) float32, channels first like the network
    total_in: int | None  # input length, once the input has ended


@dataclass
class _Output:
    tail: np.ndarray = field(default_factory=lambda: np.zeros((2, 2, FRAME - HOP), np.float32))
    to_skip: int = FRAME  # the output's first 4096 samples belong to Spleeter's lead padding
    frames_done: int = 0


class StreamingSeparator:
    """Feeds stereo 44.1 kHz blocks through the network; yields (vocals, accompaniment) blocks.

    The yielded blocks together have exactly as many samples as went in.
    """

    def __init__(
        self,
        predict: Predict,
        plan: BandPlan = FULL_BAND,
        *,
        segments_per_piece: int = 1,
        concurrency: int = 1,
    ) -> None:
        """``concurrency``: how many pieces the network may run at once (``predict`` must then
        be safe to call from that many threads); the output is the same for any value."""
        if segments_per_piece < 1:
            raise ValueError("segments_per_piece must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._predict = predict
        self._plan = plan
        self._piece = SEGMENT * segments_per_piece  # frames per piece
        self._concurrency = concurrency

    def run(
        self,
        blocks: Iterable[np.ndarray],
        *,
        on_frames: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stereo blocks in, (vocals, accompaniment) blocks out, as the pieces complete.

        The network runs on background threads (``concurrency`` pieces at once) while this
        thread finishes the oldest piece (masks, inverse STFT, the caller's writing) and reads
        and analyses the next. ONNX Runtime and the big NumPy/SciPy calls release the GIL, so
        they overlap. Pieces are finished in order, so the output never depends on timing.
        """
        with ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix="unet"
        ) as network:
            in_flight: deque[tuple[_Piece, Future]] = deque()
            state = _Output()
            for piece in self._pieces(blocks):
                in_flight.append((piece, network.submit(self._estimate, piece.magnitude)))
                if len(in_flight) > self._concurrency:
                    yield from self._finish(*in_flight.popleft(), state, on_frames)
            while in_flight:
                yield from self._finish(*in_flight.popleft(), state, on_frames)

    def _pieces(self, blocks: Iterable[np.ndarray]) -> Iterator[_Piece]:
        """Cut the padded input into pieces of whole segments and analyse each one."""
        pending: list[np.ndarray] = [np.zeros((FRAME, 2), dtype=np.float32)]  # Spleeter's lead
        pending_len = FRAME
        total_in = 0
        piece_samples = (self._piece - 1) * HOP + FRAME
        frames_done = 0
        source = iter(blocks)
        exhausted = False
        while True:
            while not exhausted and pending_len < piece_samples:
                block = next(source, None)
                if block is None:
                    exhausted = True
                    break
                block = np.asarray(block, dtype=np.float32)
                if block.ndim != 2 or block.shape[1] != 2:
                    raise ValueError(f"expected (n, 2) stereo blocks, got {block.shape}")
                pending.append(block)
                pending_len += len(block)
                total_in += len(block)
            buffer = np.concatenate(pending) if len(pending) > 1 else pending[0]
            if not exhausted:
                frames = self._piece
            else:
                # tf.signal.stft(pad_end=True): ceil(len / hop) frames, zeros after the end.
                frames = min(self._piece, -(-(total_in + FRAME - frames_done * HOP) // HOP))
                if frames <= 0:
                    return
                needed = (frames - 1) * HOP + FRAME
                if len(buffer) < needed:
                    buffer = np.concatenate(
                        [buffer, np.zeros((needed - len(buffer), 2), dtype=np.float32)]
                    )
            frames_done += frames
            last = exhausted and frames_done * HOP >= total_in + FRAME
            yield self._analyse(buffer, frames, total_in if exhausted else None)
            pending = [buffer[frames * HOP :]]
            pending_len = len(pending[0])
            if last:
                return

    def _analyse(self, buffer: np.ndarray, frames: int, total_in: int | None) -> _Piece:
        # Channels first and contiguous, so each frame is one contiguous run of samples.
        channels = np.ascontiguousarray(buffer[: (frames - 1) * HOP + FRAME].T)  # (2, samples)
        view = np.lib.stride_tricks.sliding_window_view(channels, FRAME, axis=1)[:, ::HOP]
        framed = view[:, :frames] * WINDOW  # float32, (2, frames, FRAME)
        spectrum = scipy.fft.rfft(framed, axis=-1, workers=-1)  # complex64, (2, frames, BINS)
        magnitude = np.abs(spectrum[:, :, : self._plan.model_bins])  # (2, frames, F)
        return _Piece(channels[:, : frames * HOP], frames, spectrum, magnitude, total_in)

    def _finish(
        self,
        piece: _Piece,
        estimate: Future,
        state: _Output,
        on_frames: Callable[[int], None] | None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        stems = self._synthesise(piece, estimate.result())  # (2 stems, 2 ch, (frames+3)*HOP)
        frames = piece.frames
        stems[:, :, : FRAME - HOP] += state.tail
        state.tail = stems[:, :, frames * HOP :].copy()
        ready = stems[:, :, : frames * HOP]
        state.frames_done += frames
        if state.to_skip:
            skip = min(state.to_skip, ready.shape[-1])
            ready = ready[:, :, skip:]
            state.to_skip -= skip
        if piece.total_in is not None:
            # Everything past the input's end is padding.
            already = state.frames_done * HOP - FRAME - ready.shape[-1]
            keep = max(0, min(ready.shape[-1], piece.total_in - already))
            ready = ready[:, :, :keep]
        if ready.shape[-1]:
            yield ready[0].T.copy(), ready[1].T.copy()
        if on_frames is not None:
            on_frames(frames)

    def _synthesise(self, piece: _Piece, estimates: list[np.ndarray]) -> np.ndarray:
        plan, frames = self._plan, piece.frames
        out = np.zeros((2, 2, (frames + OVERLAP - 1) * HOP), dtype=np.float32)
        if plan.extension == "top":
            # The two masks sum to one in every bin, so the vocals are the input minus the
            # accompaniment (to float rounding): one inverse STFT, not two. The piece's
            # spectrum is masked in place, no longer needed as it was.
            mask = accompaniment_mask(*estimates)  # (2, frames, F)
            bins, spectrum = plan.model_bins, piece.spectrum
            if plan.wiener_iterations:
                spectrum[:, :, :bins] = _wiener_accompaniment(
                    spectrum[:, :, :bins], estimates, plan.wiener_iterations
                )
            else:
                spectrum[:, :, :bins] *= mask
            spectrum[:, :, bins:] *= mask[:, :, bins - plan.top_bins :].mean(axis=2)[..., None]
            self._overlap_add(spectrum, out[1], frames)
            out[0, :, : frames * HOP] = piece.samples
            out[0] -= out[1]  # the carried tail is subtracted in _finish as well
            return out
        masks = ratio_masks(*estimates)  # each (2, frames, F)
        for stem in (0, 1):
            masked = piece.spectrum * extend_masks(masks[stem], plan)
            self._overlap_add(masked, out[stem], frames)
        return out

    def _estimate(self, magnitude: np.ndarray) -> list[np.ndarray]:
        """(2, frames, F) magnitudes -> the networks' estimates, each (2, frames, F).

        Like Spleeter, the network sees independent 512-frame segments counted from frame 0;
        the last, shorter one is zero-padded (to 512, or to a multiple of 64).
        """
        _, frames, bins = magnitude.shape
        whole, rest = divmod(frames, SEGMENT)
        batches = []
        if whole:
            segments = magnitude[:, : whole * SEGMENT].reshape(2, whole, SEGMENT, bins)
            batches.append(segments.transpose(1, 0, 2, 3))  # (whole, 2, 512, F)
        if rest:
            length = SEGMENT if self._plan.segment_padding == "spleeter" else -(-rest // 64) * 64
            last = np.zeros((1, 2, length, bins), dtype=np.float32)
            last[0, :, :rest] = magnitude[:, whole * SEGMENT :]
            batches.append(last)
        outputs: list[list[np.ndarray]] = [[], []]
        for batch in batches:
            for stem, out in enumerate(self._predict(batch)):
                outputs[stem].append(out.transpose(1, 0, 2, 3).reshape(2, -1, bins))
        return [(o[0] if len(o) == 1 else np.concatenate(o, axis=1))[:, :frames] for o in outputs]

    @staticmethod
    def _overlap_add(masked: np.ndarray, target: np.ndarray, frames: int) -> None:
        signal = scipy.fft.irfft(masked, n=FRAME, axis=-1, workers=-1)  # float32
        signal *= SYNTHESIS_WINDOW
        quarters = signal.reshape(2, frames, OVERLAP, HOP)
        acc = target.reshape(2, frames + OVERLAP - 1, HOP)
        for k in range(OVERLAP):
            acc[:, k : k + frames, :] += quarters[:, :, k, :]
