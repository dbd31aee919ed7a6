"""The two Spleeter U-Nets (vocals, accompaniment), loaded once and kept warm.

They run in ONNX Runtime from a graph exported from the real checkpoint at install time
(``export.py``); the STFT and its inverse run in NumPy/SciPy (``dsp.py``). Measured here:
TensorFlow's import and graph build cost ~16 s per cold start and its CPU FFT kernels more
than half of Spleeter's time, while ONNX Runtime loads in ~1 s and runs the networks ~20 %
faster than TensorFlow with oneDNN, with the same output to float rounding.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import weights
from .dsp import OUTPUTS

CHANNELS = 2
TIME_MULTIPLE = 64  # six stride-2 layers: segment lengths must divide by 2**6


MAX_STREAMS = 2  # pieces in the network at once, each on its own share of the cores


def split_threads(threads: int | None) -> tuple[int, int]:
    """(streams, threads per stream) for a model given ``threads`` cores (None or 0: all).

    Two pieces at once, each run on half the cores, beat one piece on all of them: ONNX
    Runtime's threads wait for each other after every layer, and the small deep layers do
    not split well (measured: ``bench/profile_engine.py``). More workers, not more streams,
    use a big machine's cores (docs/deploy.md).
    """
    cores = max(1, threads or os.cpu_count() or 1)
    streams = min(cores, MAX_STREAMS)
    return streams, -(-cores // streams)  # an odd core count: one thread more, not one less


class UNetModel:
    """Spleeter's 2-stem U-Nets with the real weights, for any (batch, 2, T, F) input.

    :meth:`predict` may be called from ``streams`` threads at once (ONNX Runtime's ``run``
    is thread-safe); each call runs on ``threads_per_stream`` cores.
    """

    def __init__(self, model_root: Path | None = None, *, threads: int | None = None) -> None:
        """``model_root`` holds ``2stems/`` (None: the default folder); ``threads`` is how many
        cores the networks use (None or 0: all of them)."""
        model_path = weights.onnx_model(model_root)  # never runs on missing/random weights
        import onnxruntime

        self.streams, self.threads_per_stream = split_threads(threads)
        self.threads = max(1, threads or os.cpu_count() or 1)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads_per_stream
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        # Idle threads sleep instead of spinning: the cores are shared with the other stream,
        # the STFTs and the writing (spinning cost ~25 % more CPU for the same work here).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )

    def predict(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitudes (batch, 2, T, F), channels first -> the networks' (vocals,
        accompaniment) estimates, each of the same shape."""
        if magnitude.ndim != 4 or magnitude.shape[1] != CHANNELS:
            raise ValueError(f"expected (batch, 2, T, F), got {magnitude.shape}")
        if magnitude.shape[2] % TIME_MULTIPLE or magnitude.shape[3] % TIME_MULTIPLE:
            raise ValueError(f"T and F must be multiples of {TIME_MULTIPLE}: {magnitude.shape}")
        feed = {"mix": np.ascontiguousarray(magnitude, dtype=np.float32)}
        vocals, accompaniment = self._session.run(list(OUTPUTS), feed)
        return vocals, accompaniment
