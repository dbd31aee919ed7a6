from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).resolve().parent.parent / "data"
MIXTURES = ("dev1_vocadito10_loops", "dev2_festival_sectoid")


def load(name: str, stem: str) -> np.ndarray:
    audio, rate = sf.read(DATA / name / f"{stem}.flac", dtype="float32")
    assert rate == 44100
    return audio


@pytest.fixture(scope="session")
def real_engine():
    """The real warm engine (real weights), loaded once for the whole test session."""
    from engine import get_engine

    return get_engine()


def tone(seconds: float, rate: int = 44100, channels: int = 2, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    left = level * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    right = level * np.sin(2 * np.pi * 660 * t)
    both = np.stack([left, right], axis=1).astype(np.float32)
    return both[:, :channels] if channels <= 2 else np.repeat(both[:, :1], channels, axis=1)
