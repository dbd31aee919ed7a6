"""What an export costs before it is made: its size (the quota holds room for it) and the
time a worker will spend on it (refused up front when over the budget), from the song's real
sample rate, channels and length, the tempo, the format and how many stems it mixes.

Plain arithmetic (no audio library): the web process asks it for every request.
"""

from dataclasses import dataclass

from catalog.formats import export_sample_rate, export_seconds, get_export_format

# The render's speed on a busy 2-core machine: reading and mixing the stems and resampling
# them to the export's rate, in source samples (frames x channels x stems) a second;
# stretching and encoding, in output samples (frames x channels) a second. bench/render.py
# measured 34 s for 2 minutes at 48 kHz stereo and 75 % (15.4 M output samples: 450 k a
# second, sharing the cores), bench/export_wait.py 330 s for 10 minutes at 192 kHz and 50 %
# under a load of 11 on 2 cores. A slower machine takes longer than estimated, and the
# run's own budget (JAM_RENDER_MAX_SECONDS) stops it there.
READ_SAMPLES_PER_S = 20_000_000
STRETCH_SAMPLES_PER_S = 500_000
COPY_SAMPLES_PER_S = 400_000_000  # the same audio when tempo and key stay as they are


@dataclass(frozen=True)
class ExportCost:
    seconds: float  # how long the export lasts
    sample_rate: int  # what it is written at (`catalog.formats.export_sample_rate`)
    size_bytes: int  # at most
    work_s: float  # about how long a worker takes to make it


def export_cost(
    *,
    duration_s: float,
    sample_rate: int,
    channels: int,
    stems: int,
    tempo_percent: int,
    semitones: int,
    fmt: str,
) -> ExportCost:
    """The cost of an export of a song (``duration_s`` long, at ``sample_rate`` with
    ``channels``) mixing ``stems`` stems, at ``tempo_percent`` and ``semitones``, in the
    format called ``fmt``."""
    channels = max(channels, 1)
    rate = export_sample_rate(sample_rate)
    seconds = export_seconds(duration_s, tempo_percent=tempo_percent)
    size = get_export_format(fmt).bytes_for(seconds=seconds, sample_rate=rate, channels=channels)
    read = duration_s * (sample_rate or rate) * channels * max(stems, 1) / READ_SAMPLES_PER_S
    changed = tempo_percent != 100 or semitones != 0
    out_samples = seconds * rate * channels
    stretch = out_samples / (STRETCH_SAMPLES_PER_S if changed else COPY_SAMPLES_PER_S)
    return ExportCost(seconds=seconds, sample_rate=rate, size_bytes=size, work_s=read + stretch)


def duration_words(seconds: float) -> str:
    """A worker's time for people: "40 seconds", "15 minutes"."""
    if seconds < 90:
        whole = round(seconds)
        return f"{whole} second{'s' if whole != 1 else ''}"
    return f"{seconds / 60:.0f} minutes"
