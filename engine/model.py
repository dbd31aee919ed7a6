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
from .errors import ModelError

CHANNELS = 2
TIME_MULTIPLE = 64  # six stride-2 layers: segment lengths must divide by 2**6


MAX_STREAMS = 2  # pieces in the network at once, each on its own share of the cores
DEVICES = ("cpu", "cuda")


def parse_device(device: str) -> tuple[str, int]:
    """ "cpu", "cuda" or "cuda:N" -> (kind, device number); ValueError for anything else."""
    kind, _, number = (device or "cpu").strip().lower().partition(":")
    if kind not in DEVICES or (number and (kind == "cpu" or not number.isdigit())):
        raise ValueError(f"unknown device {device!r}: use cpu, cuda or cuda:N")
    return kind, int(number or 0)


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

    def __init__(
        self, model_root: Path | None = None, *, threads: int | None = None, device: str = "cpu"
    ) -> None:
        """``model_root`` holds ``2stems/`` (None: the default folder); ``threads`` is how many
        cores the networks use (None or 0: all of them); ``device``: "cpu", or "cuda" /
        "cuda:N" for ONNX Runtime's CUDA provider (the ``onnxruntime-gpu`` build), which runs
        one piece at a time: batch the pieces instead (``batching.BatchingModel``)."""
        kind, number = parse_device(device)
        model_path = weights.onnx_model(model_root)  # never runs on missing/random weights
        import onnxruntime

        self.device = "cpu" if kind == "cpu" else f"cuda:{number}"
        if kind == "cuda":
            self._session = _cuda_session(onnxruntime, model_path, number)
            self.streams, self.threads_per_stream, self.threads = 1, 1, 1
            return
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


def _cuda_session(onnxruntime, model_path: Path, number: int):
    """A session on CUDA device ``number``, or a ModelError that says why not: ONNX Runtime
    itself quietly falls back to the CPU when the CUDA provider cannot load."""
    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ModelError(
            "A CUDA device was asked for, but this ONNX Runtime has no CUDA provider "
            f"(it has {', '.join(available)}): install onnxruntime-gpu in place of "
            "onnxruntime (docs/deploy.md, GPU workers)."
        )
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = onnxruntime.InferenceSession(
        str(model_path),
        options,
        providers=[("CUDAExecutionProvider", {"device_id": number}), "CPUExecutionProvider"],
    )
    if session.get_providers()[0] != "CUDAExecutionProvider":
        raise ModelError(
            f"ONNX Runtime could not start its CUDA provider on device {number} (no such "
            "device, or the CUDA/cuDNN libraries are missing); see the log above."
        )
    return session
