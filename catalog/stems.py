"""The one registry of stems, read by the engine, the admin, views and templates alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stem:
    name: str  # key in URLs, storage names and SeparationResult.stems
    label: str  # for people
    output: str  # Spleeter's name for the network output, and the CLI's file name
    colour: str  # waveform colour, "#rrggbb"


STEMS: tuple[Stem, ...] = (  # in display order
    Stem("instrumental", "Instrumental (jam track)", "accompaniment", "#2563eb"),
    Stem("vocals", "Vocals", "vocals", "#db2777"),
)
STEM_NAMES: tuple[str, ...] = tuple(stem.name for stem in STEMS)
JAM_TRACK = "instrumental"  # the stem that is the jam track
ORIGINAL_PART = "original"  # the part name of the uploaded mix beside the stems
ORIGINAL_COLOUR = "#4a5568"  # waveform colour of the uploaded mix
PART_NAMES: tuple[str, ...] = (ORIGINAL_PART, *STEM_NAMES)  # every part of a track, page order

_BY_NAME = {stem.name: stem for stem in STEMS}


def get_stem(name: str) -> Stem | None:
    """The stem called ``name``, or None for a name the registry does not know."""
    return _BY_NAME.get(name)
