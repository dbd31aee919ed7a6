import numpy as np
import pytest

from engine import dsp
from engine.model import split_threads

from .conftest import MIXTURES, load


@pytest.mark.parametrize(
    ("cores", "split"),
    [(1, (1, 1)), (2, (2, 1)), (3, (2, 2)), (4, (2, 2)), (16, (2, 8))],
)
def test_the_cores_are_split_into_two_streams_of_network_threads(cores, split):
    assert split_threads(cores) == split


def test_no_thread_count_means_every_core(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 6)
    assert split_threads(None) == split_threads(0) == (2, 3)


@pytest.mark.model
def test_the_output_does_not_depend_on_how_many_pieces_run_at_once(real_engine):
    mix = np.concatenate([load(MIXTURES[0], "mix"), load(MIXTURES[1], "mix")])  # 3 pieces
    outputs = []
    for concurrency in (1, 3):
        separator = dsp.StreamingSeparator(
            real_engine.model.predict, real_engine.plan, concurrency=concurrency
        )
        blocks = (mix[i : i + 40_000] for i in range(0, len(mix), 40_000))
        outputs.append(np.concatenate([jam for _, jam in separator.run(blocks)]))
    assert len(outputs[0]) == len(mix)
    assert np.array_equal(outputs[0], outputs[1])
