"""The beat's tempo, for the count-in's click: the autocorrelation of the onset envelope,
weighted towards 120 BPM. Pure NumPy and libsndfile, streamed in blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

TEMPO_MIN_BPM = 50.0
TEMPO_MAX_BPM = 200.0
PRIOR_OCTAVES = 0.6  # how far from 120 BPM a tempo may lie before the prior weighs against it
_FRAME = 1024
_HOP = 512


def _onset_envelope(path: Path) -> tuple[np.ndarray, float]:
    """Spectral flux of the mono mix (half-wave rectified log-magnitude rise), one value per
    hop, and the hops per second. Read in blocks: memory stays flat at any length."""
    window = np.hanning(_FRAME).astype(np.float32)
    flux: list[np.ndarray] = []
    previous = None
    carry = np.zeros(0, dtype=np.float32)
    with sf.SoundFile(str(path)) as audio:
        rate = audio.samplerate
        for block in audio.blocks(blocksize=_HOP * 512, dtype="float32", always_2d=True):
            mono = np.concatenate([carry, block.mean(axis=1)])
            count = (len(mono) - _FRAME) // _HOP + 1
            if count <= 0:
                carry = mono
                continue
            starts = np.arange(count) * _HOP
            frames = mono[starts[:, None] + np.arange(_FRAME)] * window
            magnitude = np.log1p(100.0 * np.abs(np.fft.rfft(frames, axis=1)))
            if previous is not None:
                magnitude = np.vstack([previous[None, :], magnitude])
            rise = np.maximum(np.diff(magnitude, axis=0), 0.0).sum(axis=1)
            flux.append(rise if previous is not None else np.concatenate([[0.0], rise]))
            previous = magnitude[-1]
            carry = mono[count * _HOP :]
    envelope = np.concatenate(flux) if flux else np.zeros(0)
    return envelope.astype(np.float64), rate / _HOP


def estimate_tempo(path: Path) -> float | None:
    """The beat's tempo in BPM from the autocorrelation of the onset envelope, weighted
    towards 120 BPM (a log-normal prior, PRIOR_OCTAVES wide, after Ellis 2007), so a beat at
    half or double speed is not taken for the beat. None for audio too short or too flat
    to tell (the player then offers 120 for the user to correct)."""
    envelope, rate = _onset_envelope(path)
    if len(envelope) < rate * 4:
        return None
    # Subtract a moving average (about 0.5 s), keep what rises above it.
    width = max(int(rate / 2), 1)
    local = np.convolve(envelope, np.ones(width) / width, mode="same")
    onsets = np.maximum(envelope - local, 0.0)
    onsets -= onsets.mean()
    if not np.any(onsets):
        return None
    size = 1 << int(np.ceil(np.log2(2 * len(onsets))))
    spectrum = np.fft.rfft(onsets, size)
    correlation = np.fft.irfft(spectrum * np.conj(spectrum), size)[: len(onsets)]
    correlation /= correlation[0] or 1.0
    lags = np.arange(len(correlation), dtype=np.float64)
    with np.errstate(divide="ignore"):
        bpm = 60.0 * rate / lags
    usable = (bpm >= TEMPO_MIN_BPM) & (bpm <= TEMPO_MAX_BPM)
    if not np.any(usable):
        return None
    prior = np.exp(-0.5 * (np.log2(np.where(usable, bpm, 120.0) / 120.0) / PRIOR_OCTAVES) ** 2)
    scored = np.where(usable, correlation * prior, -np.inf)
    best = int(np.argmax(scored))
    if correlation[best] <= 0.05:
        return None
    # Parabolic interpolation between the neighbouring lags: a finer tempo than one hop.
    offset = 0.0
    if 0 < best < len(correlation) - 1:
        left, middle, right = correlation[best - 1 : best + 2]
        denominator = left - 2 * middle + right
        if denominator < 0:
            offset = 0.5 * (left - right) / denominator
    return float(60.0 * rate / (best + offset))
