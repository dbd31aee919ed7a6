"""Measuring what a render did to a tone: its fundamental and its length."""

import numpy as np


def fundamental_hz(audio: np.ndarray, rate: int) -> float:
    """The strongest frequency of the middle half of ``audio`` ((frames, channels) or
    (frames,)): a Hann-windowed FFT, zero-padded 8x, its peak refined by a parabola through
    the log magnitudes. Good to ~0.01 % on a steady tone of a few seconds."""
    mono = audio.mean(axis=1) if audio.ndim == 2 else audio
    middle = mono[len(mono) // 4 : 3 * len(mono) // 4].astype(np.float64)
    size = 8 * len(middle)
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle)), n=size))
    peak = int(np.argmax(spectrum[1:])) + 1
    left, centre, right = np.log(spectrum[peak - 1 : peak + 2] + 1e-30)
    offset = 0.5 * (left - right) / (left - 2 * centre + right)
    return (peak + offset) * rate / size
