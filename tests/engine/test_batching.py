"""The GPU worker's batching of several songs' pieces (`engine.batching`), and the
device choice. The batching runs here on the CPU with the real networks: only the CUDA
provider itself needs a GPU (bench/separation.py --device cuda, where one is lent)."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime
import pytest
import soundfile as sf

from engine import Engine, ModelError
from engine.batching import BatchingModel
from engine.model import UNetModel, parse_device

from .conftest import DATA, MIXTURES, load


class Gated:
    """A model whose first call waits for ``gate``: while it waits, the test piles up more
    requests, so what the batcher does with a queue is certain, not a race."""

    def __init__(self, model):
        self.model = model
        self.gate = threading.Event()
        self.calls: list[tuple[int, ...]] = []
        self.started = threading.Event()

    def predict(self, magnitude):
        self.calls.append(magnitude.shape)
        self.started.set()
        self.gate.wait(30)
        return self.model.predict(magnitude)


class Arithmetic:
    """A stand-in network whose answer is easy to check: (2x, 3x)."""

    def predict(self, magnitude):
        return magnitude * 2, magnitude * 3


def pile_up(batcher, gated, requests):
    """Start the first request, hold the model, queue the rest, then let it go; the answers
    in request order."""
    with ThreadPoolExecutor(len(requests)) as pool:
        first = pool.submit(batcher.predict, requests[0])
        assert gated.started.wait(30)
        rest = [pool.submit(batcher.predict, r) for r in requests[1:]]
        deadline = time.monotonic() + 30
        while batcher._requests.qsize() < len(rest) and time.monotonic() < deadline:
            time.sleep(0.01)
        gated.gate.set()
        return [first.result(), *[f.result() for f in rest]]


def pieces_of(mix: np.ndarray, count: int, frames: int = 512, bins: int = 1024) -> list:
    """``count`` (1, 2, frames, bins) magnitudes from a real mixture, each a different place."""
    spectra = []
    for k in range(count):
        start = k * 40_000
        segment = mix[start : start + (frames - 1) * 1024 + 4096].T
        framed = np.lib.stride_tricks.sliding_window_view(segment, 4096, axis=1)[:, ::1024]
        spectrum = np.abs(np.fft.rfft(framed[:, :frames] * np.hanning(4096), axis=-1))
        spectra.append(spectrum[None, :, :, :bins].astype(np.float32))
    return spectra


def test_cpu_cuda_and_a_numbered_cuda_device_are_understood_and_nothing_else():
    assert parse_device("cpu") == ("cpu", 0)
    assert parse_device("CUDA") == ("cuda", 0)
    assert parse_device("cuda:1") == ("cuda", 1)
    for wrong in ("gpu", "cuda:x", "cpu:1", "metal"):
        with pytest.raises(ValueError, match="use cpu, cuda or cuda:N"):
            parse_device(wrong)


@pytest.mark.skipif(
    "CUDAExecutionProvider" in onnxruntime.get_available_providers(),
    reason="this ONNX Runtime has a CUDA provider",
)
def test_asking_for_cuda_without_the_cuda_build_of_onnx_runtime_is_refused_with_the_reason():
    with pytest.raises(ModelError, match="install onnxruntime-gpu"):
        UNetModel(device="cuda")


def test_requests_waiting_together_run_as_one_batch_and_each_gets_its_own_answer():
    gated = Gated(Arithmetic())
    batcher = BatchingModel(gated, max_batch=8)
    requests = [np.full((1, 2, 64, 64), k, dtype=np.float32) for k in range(5)]
    answers = pile_up(batcher, gated, requests)
    assert [shape[0] for shape in gated.calls] == [1, 4]  # the first alone, then the rest
    assert batcher.sizes == {1: 1, 4: 1}
    for request, (doubled, tripled) in zip(requests, answers, strict=True):
        assert np.array_equal(doubled, request * 2) and np.array_equal(tripled, request * 3)


def test_a_batch_holds_one_shape_and_never_more_than_its_limit_of_segments():
    gated = Gated(Arithmetic())
    batcher = BatchingModel(gated, max_batch=3)
    shapes = [(1, 512), (2, 512), (1, 64), (1, 512), (1, 512), (2, 64)]  # (segments, frames)
    requests = [np.full((n, 2, t, 64), k, np.float32) for k, (n, t) in enumerate(shapes)]
    answers = pile_up(batcher, gated, requests)
    # The first alone; then in order: the 512s that fit (2+1), the 64s (1+2), the last 512.
    assert [(shape[0], shape[2]) for shape in gated.calls] == [
        (1, 512),
        (3, 512),
        (3, 64),
        (1, 512),
    ]
    for request, (doubled, _) in zip(requests, answers, strict=True):
        assert np.array_equal(doubled, request * 2)


def test_a_failure_of_the_network_reaches_every_song_in_that_batch_and_no_other():
    class Failing(Arithmetic):
        def predict(self, magnitude):
            if len(magnitude) > 1:
                raise RuntimeError("out of GPU memory")
            return super().predict(magnitude)

    gated = Gated(Failing())
    batcher = BatchingModel(gated, max_batch=8)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.predict, np.ones((1, 2, 64, 64), np.float32))
        assert gated.started.wait(30)
        rest = [pool.submit(batcher.predict, np.ones((1, 2, 64, 64), np.float32)) for _ in "ab"]
        while batcher._requests.qsize() < 2:
            time.sleep(0.01)
        gated.gate.set()
        assert first.result()[0].shape == (1, 2, 64, 64)
        for future in rest:
            with pytest.raises(RuntimeError, match="out of GPU memory"):
                future.result()
    # The batcher goes on serving.
    assert batcher.predict(np.ones((1, 2, 64, 64), np.float32))[1][0, 0, 0, 0] == 3


@pytest.mark.model
def test_the_real_networks_give_each_piece_of_a_batch_what_they_give_it_alone(real_engine):
    model = real_engine.model
    gated = Gated(model)
    batcher = BatchingModel(gated, max_batch=4)
    requests = pieces_of(load(MIXTURES[0], "mix"), 4)
    answers = pile_up(batcher, gated, requests)
    assert batcher.sizes == {1: 1, 3: 1}
    worst = 0.0
    for request, answer in zip(requests, answers, strict=True):
        for batched, alone in zip(answer, model.predict(request), strict=True):
            worst = max(worst, float(np.max(np.abs(batched - alone)) / np.max(np.abs(alone))))
    assert worst < 1e-5, worst


@pytest.mark.model
def test_songs_separated_at_once_over_one_batching_model_sound_as_when_separated_alone(
    real_engine, tmp_path
):
    batched = Engine(model=BatchingModel(real_engine.model, max_batch=8))
    songs = [DATA / name / "mix.flac" for name in MIXTURES]
    with ThreadPoolExecutor(len(songs)) as pool:
        together = list(
            pool.map(
                lambda s: batched.separate_file(s, tmp_path / "together" / s.parent.name), songs
            )
        )
    for song, result in zip(songs, together, strict=True):
        alone = real_engine.separate_file(song, tmp_path / "alone" / song.parent.name)
        for stem, path in result.stems.items():
            ours, _ = sf.read(path)
            theirs, _ = sf.read(alone.stems[stem])
            assert ours.shape == theirs.shape == load(song.parent.name, "mix").shape
            # The same samples, or one 16-bit step apart (float rounding in the network).
            assert np.max(np.abs(ours - theirs)) <= 1.01 / 2**15, (song.name, stem)
    assert sum(batched.model.sizes.values()) > 0
