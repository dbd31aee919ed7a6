"""The two Spleeter U-Nets (vocals, accompaniment), built once and kept warm in one TF session.

Only the networks run in TensorFlow. The STFT and its inverse run in NumPy/SciPy (``dsp``):
TensorFlow's CPU FFT kernels were measured to take more than half of Spleeter's time for a
tiny share of its arithmetic.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from . import weights

INSTRUMENTS = ("vocals", "accompaniment")
CHANNELS = 2
TIME_MULTIPLE = 64  # six stride-2 layers: segment lengths must divide by 2**6


def _configure_tensorflow_environment() -> None:
    # oneDNN kernels are the fastest here; TF 2.12 leaves them off on CPUs without AVX-512,
    # where they still run the U-Net about 1.7x faster. Set before TensorFlow is imported.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class UNetModel:
    """Spleeter's 2-stem U-Nets with the real checkpoint restored, for any (T, F) input."""

    def __init__(self, checkpoint_dir: Path | None = None, *, threads: int | None = None) -> None:
        checkpoint_dir = weights.verify(checkpoint_dir)  # never run on missing/random weights
        _configure_tensorflow_environment()
        import tensorflow as tf

        logging.getLogger("tensorflow").setLevel(logging.WARNING)
        tf.get_logger().setLevel(logging.WARNING)
        from spleeter.model.functions.unet import unet

        threads = threads or int(os.environ.get("JAMWITHME_TF_THREADS", "0")) or os.cpu_count() or 1
        self._graph = tf.Graph()
        with self._graph.as_default():
            self._input = tf.compat.v1.placeholder(
                tf.float32, shape=(None, None, None, CHANNELS), name="mix_spectrogram"
            )
            outputs = unet(self._input, list(INSTRUMENTS), {})
            self._outputs = [outputs[f"{name}_spectrogram"] for name in INSTRUMENTS]
            saver = tf.compat.v1.train.Saver()
            config = tf.compat.v1.ConfigProto(
                intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1
            )
            self._session = tf.compat.v1.Session(graph=self._graph, config=config)
            saver.restore(self._session, str(checkpoint_dir / "model"))
        self._graph.finalize()
        self._lock = threading.Lock()

    def predict(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitudes (batch, T, F, 2) -> the networks' (vocals, accompaniment) estimates."""
        if magnitude.ndim != 4 or magnitude.shape[-1] != CHANNELS:
            raise ValueError(f"expected (batch, T, F, 2), got {magnitude.shape}")
        if magnitude.shape[1] % TIME_MULTIPLE or magnitude.shape[2] % TIME_MULTIPLE:
            raise ValueError(f"T and F must be multiples of {TIME_MULTIPLE}: {magnitude.shape}")
        with self._lock:
            vocals, accompaniment = self._session.run(self._outputs, {self._input: magnitude})
        return vocals, accompaniment

    def close(self) -> None:
        self._session.close()
