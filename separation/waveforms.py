"""Waveform pictures (PNG) drawn with Pillow from the engine's per-column peaks, and the same
peaks as JSON for the player (with the jam track's tempo, `engine.estimate_tempo`, for its
count-in)."""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from catalog.stems import ORIGINAL_COLOUR, get_stem

WIDTH = 800
HEIGHT = 120


def colour_of(stem: str) -> tuple[int, int, int]:
    """The registry's colour of a stem; the original mix's colour for "" (or unknown)."""
    known = get_stem(stem) if stem else None
    return ImageColor.getrgb(known.colour if known else ORIGINAL_COLOUR)[:3]


def waveform_png(*, peaks: np.ndarray, out_path: Path, stem: str, height: int = HEIGHT) -> Path:
    """Draw (width, 2) min/max peaks in [-1, 1] as a transparent PNG, in the stem's colour."""
    peaks = np.clip(np.nan_to_num(np.asarray(peaks, dtype=np.float32)), -1.0, 1.0)
    width = max(int(peaks.shape[0]), 1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = colour_of(stem)
    middle = (height - 1) / 2
    draw.line([(0, middle), (width - 1, middle)], fill=(*colour, 90))
    for x, (low, high) in enumerate(peaks):
        top = middle - float(high) * middle
        bottom = middle - float(low) * middle
        draw.line([(x, top), (x, max(bottom, top + 1))], fill=(*colour, 255))
    image.save(out_path, format="PNG", optimize=True)
    return out_path


def peaks_json(
    *, peaks: np.ndarray, out_path: Path, duration_s: float, tempo_bpm: float | None = None
) -> Path:
    """The same (width, 2) min/max peaks as JSON for the player's waveform (wavesurfer.js
    draws them without decoding the audio): one channel of interleaved min, max values,
    rounded to 1/1000. ``tempo_bpm`` (the count-in's tempo) goes with the jam track's."""
    peaks = np.clip(np.nan_to_num(np.asarray(peaks, dtype=np.float64)), -1.0, 1.0)
    data = {
        "version": 1,
        "duration_s": round(float(duration_s), 3),
        "peaks": [[round(float(value), 3) for value in peaks.reshape(-1)]],
        "tempo_bpm": round(float(tempo_bpm), 1) if tempo_bpm else None,
    }
    out_path.write_text(json.dumps(data, separators=(",", ":")))
    return out_path
