"""The two Spleeter U-Nets (vocals, accompaniment), loaded once and kept warm.

They run in ONNX Runtime from a graph exported from the real checkpoint at install time
(``export.py``); the STFT and its inverse run in NumPy/SciPy (``dsp.py``). Measured here:
TensorFlow's import and graph build cost ~16 s per cold start and its CPU FFT kernels more
than half of Spleeter's time, while ONNX Runtime loads in ~1 s and runs the networks ~20 %
faster than TensorFlow with oneDNN, with the same output to float rounding.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from . import weights

CHANNELS = 2
TIME_MULTIPLE = 64  # six stride-2 layers: segment lengths must divide by 2**6


class UNetModel:
    """Spleeter's 2-stem U-Nets with the real weights, for any (batch, T, F, 2) input."""

    def __init__(self, checkpoint_dir: Path | None = None, *, threads: int | None = None) -> None:
        model_path = weights.onnx_model(checkpoint_dir)  # never runs on missing/random weights
        import onnxruntime

        threads = threads or int(os.environ.get("JAMWITHME_MODEL_THREADS", "0")) or os.cpu_count()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._lock = threading.Lock()

    def predict(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitudes (batch, T, F, 2) -> the networks' (vocals, accompaniment) estimates."""
        if magnitude.ndim != 4 or magnitude.shape[-1] != CHANNELS:
            raise ValueError(f"expected (batch, T, F, 2), got {magnitude.shape}")
        if magnitude.shape[1] % TIME_MULTIPLE or magnitude.shape[2] % TIME_MULTIPLE:
            raise ValueError(f"T and F must be multiples of {TIME_MULTIPLE}: {magnitude.shape}")
        feed = {"mix": np.ascontiguousarray(magnitude, dtype=np.float32)}
        with self._lock:
            vocals, accompaniment = self._session.run(["vocals", "accompaniment"], feed)
        return vocals, accompaniment
