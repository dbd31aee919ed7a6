"""The one registry of export formats, read by the renderer, the quota estimate, storage
names, media responses, forms and templates alike. A new format is a row in
`EXPORT_FORMATS` and a migration (`Render.format` takes its choices from here)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    name: str  # key: the form's value, `Render.format`
    label: str  # for people
    extension: str  # of the stored file and the download, ".wav"
    mime_type: str  # Content-Type of the download
    # At most this many bytes a second of audio per channel: the quota counts an export on
    # its way at this size before it is made.
    bytes_per_second: int
    # The encoder's highest sample rate: a song above it is resampled to it. None: any.
    max_sample_rate: int | None = None
    # What the encoder is told (pedalboard.io.AudioFile's `bit_depth` and `quality`);
    # None leaves the encoder's own default.
    bit_depth: int | None = None
    quality: str | None = None


EXPORT_FORMATS: tuple[ExportFormat, ...] = (  # in display order
    # 24-bit at up to 48 kHz; FLAC is never larger than the WAV.
    ExportFormat("wav", "WAV", ".wav", "audio/wav", 3 * 48_000, bit_depth=24),
    ExportFormat("flac", "FLAC", ".flac", "audio/flac", 3 * 48_000, bit_depth=24),
    # LAME's best variable bit rate (V0, ~245 kbit/s), never above 320 kbit/s (stereo); LAME
    # goes up to 48 kHz.
    ExportFormat(
        "mp3", "MP3", ".mp3", "audio/mpeg", 40_000 // 2, 48_000, bit_depth=16, quality="V0"
    ),
    # libvorbis at quality 0.8 (pedalboard calls it "256 kbps"; ~220-280 kbit/s stereo, as
    # MP3 V0). It takes any rate but is tuned up to 48 kHz; there white noise, its worst
    # case, takes 30 kB/s per channel.
    ExportFormat("ogg", "Ogg Vorbis", ".ogg", "audio/ogg", 40_000, 48_000, quality="256 kbps"),
)
DEFAULT_FORMAT = "wav"  # an export asked for without a format
PLAYER_FORMAT = "mp3"  # what the player's "Download this mix" offers first: a small file

_BY_NAME = {fmt.name: fmt for fmt in EXPORT_FORMATS}
_LABELS = [fmt.label for fmt in EXPORT_FORMATS]
# "WAV, FLAC or MP3": the formats in a sentence.
EXPORT_FORMAT_LABELS = " or ".join(filter(None, (", ".join(_LABELS[:-1]), _LABELS[-1])))


def get_export_format(name: str) -> ExportFormat | None:
    """The export format called ``name``, or None for a name the registry does not know."""
    return _BY_NAME.get(name)
