"""Several songs' pieces through the networks in one call: the GPU worker's model.

A GPU runs one 512-frame piece far below its capacity, and each call costs a launch and two
copies whatever its size. A GPU worker therefore separates several songs at once (one
thread each, Celery's threads pool) over one :class:`BatchingModel`: every song's thread
asks for its pieces as usual, and one thread in front of the model runs whatever has been
asked for by then as one batch, up to ``max_batch`` segments, then hands each song its own
part of the answer. Nothing waits on a timer: while the model runs one batch the next one
gathers, so batches grow with the load and a lone song is not slowed down.

The networks see every segment on its own (no layer mixes the batch), so a song's output
does not depend on what it shared a batch with, to float rounding. Memory stays bounded:
at most ``streams`` pieces per song are asked for at once, and one batch is in the model.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


class Predictor(Protocol):
    """What a model offers: ``predict((batch, 2, T, F)) -> (vocals, accompaniment)``."""

    def predict(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(eq=False)
class _Request:
    magnitude: np.ndarray
    answer: Future = field(default_factory=Future)


class BatchingModel:
    """Wraps a model: :meth:`predict` may be called from any number of threads, and the calls
    that are waiting when the model comes free run together as one batch.

    ``streams``: the pieces each song keeps in flight (what :class:`~.separator.Engine`
    reads as its concurrency), so a song always has its next piece waiting in the queue.
    ``sizes`` counts the batches run by their size in segments, for the benchmark and tests.
    """

    def __init__(self, model: Predictor, *, max_batch: int = 8, streams: int = 2) -> None:
        if max_batch < 1 or streams < 1:
            raise ValueError("max_batch and streams must be at least 1")
        self.model = model
        self.max_batch = max_batch
        self.streams = streams
        self.device = getattr(model, "device", "cpu")
        self.sizes: Counter[int] = Counter()
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._runner = threading.Thread(target=self._serve, name="unet-batches", daemon=True)
        self._runner.start()

    def predict(self, magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like the model's ``predict``; blocks until this request's batch has run."""
        if magnitude.ndim != 4:
            raise ValueError(f"expected (batch, 2, T, F), got {magnitude.shape}")
        request = _Request(np.ascontiguousarray(magnitude, dtype=np.float32))
        self._requests.put(request)
        return request.answer.result()

    def _serve(self) -> None:
        waiting: deque[_Request] = deque()
        while True:
            if not waiting:
                waiting.append(self._requests.get())  # sleep until there is work
            while True:  # and take everything asked for meanwhile
                try:
                    waiting.append(self._requests.get_nowait())
                except queue.Empty:
                    break
            self._run(self._take_batch(waiting))

    def _take_batch(self, waiting: deque[_Request]) -> list[_Request]:
        """The oldest request and, in order, the others of its shape that fit beside it.
        The oldest always goes, even when it alone is more than ``max_batch``."""
        first = waiting.popleft()
        batch, size = [first], len(first.magnitude)
        shape = first.magnitude.shape[1:]
        kept: deque[_Request] = deque()
        while waiting:
            request = waiting.popleft()
            count = len(request.magnitude)
            if request.magnitude.shape[1:] == shape and size + count <= self.max_batch:
                batch.append(request)
                size += count
            else:
                kept.append(request)
        waiting.extend(kept)
        return batch

    def _run(self, batch: list[_Request]) -> None:
        try:
            if len(batch) == 1:
                outputs = self.model.predict(batch[0].magnitude)
            else:
                outputs = self.model.predict(np.concatenate([r.magnitude for r in batch]))
        except Exception as error:  # each song's thread gets the error as its own
            for request in batch:
                request.answer.set_exception(error)
            return
        self.sizes[sum(len(r.magnitude) for r in batch)] += 1
        start = 0
        for request in batch:
            end = start + len(request.magnitude)
            request.answer.set_result(tuple(out[start:end] for out in outputs))
            start = end
