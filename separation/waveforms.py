"""Waveform pictures (PNG) drawn with Pillow from the engine's per-column peaks."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "original": (74, 85, 104),
    "instrumental": (37, 99, 235),
    "vocals": (219, 39, 119),
}
WIDTH = 800
HEIGHT = 120


def waveform_png(*, peaks: np.ndarray, out_path: Path, kind: str, height: int = HEIGHT) -> Path:
    """Draw (width, 2) min/max peaks in [-1, 1] as a transparent PNG."""
    peaks = np.clip(np.nan_to_num(np.asarray(peaks, dtype=np.float32)), -1.0, 1.0)
    width = max(int(peaks.shape[0]), 1)
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = COLOURS.get(kind, COLOURS["original"])
    middle = (height - 1) / 2
    draw.line([(0, middle), (width - 1, middle)], fill=(*colour, 90))
    for x, (low, high) in enumerate(peaks):
        top = middle - float(high) * middle
        bottom = middle - float(low) * middle
        draw.line([(x, top), (x, max(bottom, top + 1))], fill=(*colour, 255))
    image.save(out_path, format="PNG", optimize=True)
    return out_path
