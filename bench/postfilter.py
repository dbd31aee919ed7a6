"""The "cleaner" quality against the standard one: does the multichannel Wiener post-filter
(Spleeter's ``--mwf``, via norbert) clean the jam track? Measured on the dev mixtures in
tests/data against their true stems.

    .venv/bin/python bench/postfilter.py

For each mixture: the standard engine (ratio masks), then the engine's Wiener filter
(``BandPlan.wiener_iterations``: the networks' estimates as the sources' spectrograms over
the model band, one EM iteration as ``--mwf`` and the "cleaner" quality; then two), with the
engine's top-band extension above the model band in all of them. Prints the
accompaniment's SDR, its band above 11 kHz (SDR and level against the truth), the share of the
true vocal's amplitude left in the jam track (least-squares projection) and the CPU time.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"
MIXTURES = ("dev1_vocadito10_loops", "dev2_festival_sectoid")


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = float(np.sum((reference - estimate) ** 2))
    return 10 * np.log10(float(np.sum(reference**2)) / max(error, 1e-30))


def high_band(signal: np.ndarray) -> np.ndarray:
    sos = scipy.signal.butter(8, 11025, btype="highpass", fs=44100, output="sos")
    return scipy.signal.sosfiltfilt(sos, signal, axis=0)


def vocal_share(jam: np.ndarray, vocals: np.ndarray) -> float:
    """How much of the true vocal's amplitude is left in the jam track (0: none, 1: all)."""
    return float(np.sum(jam * vocals) / np.sum(vocals * vocals))


def separate(engine, iterations: int, mix: np.ndarray) -> tuple[np.ndarray, float]:
    from engine import dsp

    started = time.process_time()
    plan = replace(engine.plan, wiener_iterations=iterations)
    separator = dsp.StreamingSeparator(engine.model.predict, plan)
    jam = np.concatenate([blocks[1] for blocks in separator.run([mix])])
    return jam, time.process_time() - started


def main() -> None:
    from engine import get_engine

    engine = get_engine()
    variants = [
        ("standard (masks)", 0),
        ("cleaner (Wiener x1)", 1),
        ("Wiener x2", 2),
    ]
    separate(engine, 0, np.zeros((44100, 2), np.float32))  # warm up
    print(f"{'mixture':<8} {'variant':<22} {'SDR dB':>7} {'>11k SDR':>9} {'>11k lvl':>9} "
          f"{'vocal left':>10} {'CPU s':>6}")  # fmt: skip
    for name in MIXTURES:
        mix, truth, vocals = (
            sf.read(DATA / name / f"{stem}.flac", dtype="float32")[0]
            for stem in ("mix", "accompaniment", "vocals")
        )
        true_high = high_band(truth)
        for label, iterations in variants:
            jam, cpu = separate(engine, iterations, mix)
            high = high_band(jam)
            level = 10 * np.log10(np.sum(high**2) / np.sum(true_high**2))
            print(f"{name[:4]:<8} {label:<22} {sdr(truth, jam):7.2f} {sdr(true_high, high):9.1f} "
                  f"{level:+9.2f} {100 * vocal_share(jam, vocals):9.1f}% {cpu:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
