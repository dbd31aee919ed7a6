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
    # At most this many bytes a second of audio per channel at EXPORT_MAX_SAMPLE_RATE: the
    # quota counts an export on its way at this size (`export_size_bytes`) before it is made.
    bytes_per_second: int
    # The encoder's highest sample rate: a song above it is resampled to it. Every export is
    # resampled to EXPORT_MAX_SAMPLE_RATE at most anyway (`export_sample_rate`).
    max_sample_rate: int | None = None
    # What the encoder is told (pedalboard.io.AudioFile's `bit_depth` and `quality`);
    # None leaves the encoder's own default.
    bit_depth: int | None = None
    quality: str | None = None
    # PCM and lossless: the size grows with the sample rate (a 44.1 kHz WAV is 44.1/48 of a
    # 48 kHz one); a lossy encoder's bit rate does not.
    scales_with_rate: bool = False

    def bytes_for(self, *, seconds: float, sample_rate: int, channels: int) -> int:
        """At most how many bytes ``seconds`` of exported audio take, at ``sample_rate``
        (already `export_sample_rate`) and ``channels``: the header and the last block
        included."""
        per_second = self.bytes_per_second
        if self.scales_with_rate:
            per_second = per_second * sample_rate / EXPORT_MAX_SAMPLE_RATE
        return int(seconds * max(channels, 1) * per_second) + HEADER_BYTES


# Every export is written at this rate at most: a 192 kHz song exports at 48 kHz (a quarter
# of the size and of the work), one below it at its own rate. Nothing heard is lost (48 kHz
# holds up to 24 kHz), and the stretcher's work grows with the rate. There is no option for
# the original's rate: the stems themselves are the lossless originals, downloadable as is.
EXPORT_MAX_SAMPLE_RATE = 48_000
HEADER_BYTES = 64 * 1024  # a file's header, tags and last partly filled block, at most


def export_sample_rate(source_rate: int) -> int:
    """The rate an export of a song at ``source_rate`` is written at (0, unknown: the most)."""
    return min(source_rate or EXPORT_MAX_SAMPLE_RATE, EXPORT_MAX_SAMPLE_RATE)


def export_seconds(duration_s: float, *, tempo_percent: int) -> float:
    """How long an export of a song lasting ``duration_s`` lasts at ``tempo_percent``."""
    return duration_s * 100 / tempo_percent


PCM_24 = 3 * EXPORT_MAX_SAMPLE_RATE  # bytes a second per channel of 24-bit audio at 48 kHz

EXPORT_FORMATS: tuple[ExportFormat, ...] = (  # in display order
    # 24-bit at up to 48 kHz; FLAC is never larger than the WAV.
    ExportFormat("wav", "WAV", ".wav", "audio/wav", PCM_24, 48_000, 24, scales_with_rate=True),
    ExportFormat("flac", "FLAC", ".flac", "audio/flac", PCM_24, 48_000, 24, scales_with_rate=True),
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
