"""Would a multichannel Wiener post-filter (Spleeter's ``--mwf``, via norbert) clean the jam
track? Measured on the dev mixtures in tests/data against their true stems.

    .venv/bin/python bench/postfilter.py

For each mixture: the engine as it is, then norbert's EM Wiener filter applied to each piece
after the networks (one iteration, as Spleeter's ``--mwf``; then two), with the sources'
magnitudes taken as the engine's masks times the mixture, over the full band, or over the
model's band only with the engine's own top-band extension kept above it. Prints the
accompaniment's SDR, its band above 11 kHz (SDR and level against the truth), the share of the
true vocal's amplitude left in the jam track (least-squares projection) and the CPU time.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import sys
import time
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


def wiener_separator(iterations: int, keep_top: bool):
    import norbert

    from separation.engine import dsp

    class WienerSeparator(dsp.StreamingSeparator):
        def _synthesise(self, piece, estimates):
            plan, frames, bins = self._plan, piece.frames, self._plan.model_bins
            spectrum = piece.spectrum  # (2, frames, BINS)
            masks = [dsp.extend_masks(m, plan) for m in dsp.ratio_masks(*estimates)]
            magnitude = np.abs(spectrum)
            sources = np.stack([np.transpose(m * magnitude, (1, 2, 0)) for m in masks], axis=-1)
            mixture = np.transpose(spectrum, (1, 2, 0)).copy()  # norbert scales it in place
            filtered = norbert.wiener(sources, mixture, iterations=iterations)
            out = np.zeros((2, 2, (frames + dsp.OVERLAP - 1) * dsp.HOP), dtype=np.float32)
            for stem in (0, 1):
                estimate = np.transpose(filtered[..., stem], (2, 0, 1)).astype(np.complex64)
                if keep_top:
                    estimate[:, :, bins:] = spectrum[:, :, bins:] * masks[stem][:, :, bins:]
                self._overlap_add(np.ascontiguousarray(estimate), out[stem], frames)
            return out

    return WienerSeparator


def separate(engine, separator_class, mix: np.ndarray) -> tuple[np.ndarray, float]:
    started = time.process_time()
    separator = separator_class(engine.model.predict, engine.plan)
    jam = np.concatenate([blocks[1] for blocks in separator.run([mix])])
    return jam, time.process_time() - started


def main() -> None:
    from separation.engine import dsp, get_engine

    engine = get_engine()
    variants = [
        ("engine as it is", dsp.StreamingSeparator),
        ("Wiener x1, full band", wiener_separator(1, keep_top=False)),
        ("Wiener x2, full band", wiener_separator(2, keep_top=False)),
        ("Wiener x1, model band", wiener_separator(1, keep_top=True)),
    ]
    separate(engine, dsp.StreamingSeparator, np.zeros((44100, 2), np.float32))  # warm up
    print(f"{'mixture':<8} {'variant':<22} {'SDR dB':>7} {'>11k SDR':>9} {'>11k lvl':>9} "
          f"{'vocal left':>10} {'CPU s':>6}")  # fmt: skip
    for name in MIXTURES:
        mix, truth, vocals = (
            sf.read(DATA / name / f"{stem}.flac", dtype="float32")[0]
            for stem in ("mix", "accompaniment", "vocals")
        )
        true_high = high_band(truth)
        for label, separator_class in variants:
            jam, cpu = separate(engine, separator_class, mix)
            high = high_band(jam)
            level = 10 * np.log10(np.sum(high**2) / np.sum(true_high**2))
            print(f"{name[:4]:<8} {label:<22} {sdr(truth, jam):7.2f} {sdr(true_high, high):9.1f} "
                  f"{level:+9.2f} {100 * vocal_share(jam, vocals):9.1f}% {cpu:6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
