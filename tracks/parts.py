"""The parts of a track as its pages show them: the original mix, then every stem it has,
each with its audio, waveform picture and peaks. Presentation, built from the track's stored
files (`Track.stored_files()`, one query, none when they were prefetched with
`Track.objects.with_assets()`); the models only store."""

from catalog.stems import JAM_TRACK, STEMS, get_stem
from tracks.models import ORIGINAL_PART, Asset, Track


class TrackPart:
    """One playable part of a track for templates: the original mix ("") or a stem."""

    def __init__(
        self,
        track: Track,
        stem: str,
        audio: Asset | None,
        waveform: Asset | None,
        peaks: Asset | None = None,
    ):
        self.track = track
        self.stem = get_stem(stem) if stem else None
        self.audio = audio
        self.waveform = waveform
        self.peaks = peaks  # the waveform's data for the player; tracks separated before lack it

    @property
    def name(self) -> str:
        """The URL key: "original" or the stem's name."""
        return self.stem.name if self.stem else ORIGINAL_PART

    @property
    def label(self) -> str:
        return self.stem.label if self.stem else "Original"

    @property
    def downloadable(self) -> bool:
        return self.stem is not None

    @property
    def is_guide(self) -> bool:
        """A stem beside the jam track (the vocals): the player's balance fades it in."""
        return self.stem is not None and self.stem.name != JAM_TRACK

    @property
    def colour(self) -> str:
        """The registry's colour of the stem (the player's mute/solo strip)."""
        return self.stem.colour if self.stem else ""


def track_parts(track: Track) -> list[TrackPart]:
    """What the track page shows, in order: the original, then every stem it has."""
    current = {
        (asset.kind, asset.stem): asset for asset in track.stored_files() if not asset.parameters
    }
    Kind = Asset.Kind
    parts = [
        TrackPart(
            track,
            "",
            current.get((Kind.ORIGINAL, "")),
            current.get((Kind.WAVEFORM, "")),
            current.get((Kind.PEAKS, "")),
        )
    ]
    for stem in STEMS:
        audio = current.get((Kind.STEM, stem.name))
        if audio is not None:
            waveform = current.get((Kind.WAVEFORM, stem.name))
            peaks = current.get((Kind.PEAKS, stem.name))
            parts.append(TrackPart(track, stem.name, audio, waveform, peaks))
    return parts


def track_part(track: Track, name: str) -> TrackPart | None:
    """One part by its URL key ("original", a stem's name), or None."""
    return next((part for part in track_parts(track) if part.name == name), None)


def played_together(parts: list[TrackPart]) -> list[TrackPart]:
    """What the practice player plays as one: every stem given (the caller gives only the
    audible ones), or the original alone while there are no stems yet."""
    stems = [part for part in parts if part.stem is not None and part.audio is not None]
    return stems or [part for part in parts if part.audio is not None]
