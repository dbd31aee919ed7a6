"""Waveform pictures (PNG) drawn with Pillow from the engine's per-column peaks."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, ImageDraw

from separation.engine import ORIGINAL_COLOUR, get_stem

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
