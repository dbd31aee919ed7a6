"""The separation engine: decode, run Spleeter's 2-stem U-Nets warm, encode.

Pure audio and model code. It imports no Django, Channels, Celery or app module, and reads no
environment variable (only ``python -m separation.engine`` does): configuration comes in as
arguments, so ``manage.py separate``, the platform's worker and ``bench/separation.py`` all run
the same code.
"""

from .audio import (
    NO_LIMITS,
    AudioInfo,
    Limits,
    format_label,
    output_subtype,
    probe,
    read_header,
    waveform_peaks,
)
from .dsp import FULL_BAND, QUALITIES, SPLEETER_2STEMS, BandPlan
from .errors import AudioError, AudioLimitError, EngineError, ModelError
from .separator import Engine, SeparationResult, get_engine
from .stems import JAM_TRACK, ORIGINAL_COLOUR, STEM_NAMES, STEMS, Stem, get_stem

__all__ = [
    "FULL_BAND",
    "JAM_TRACK",
    "NO_LIMITS",
    "ORIGINAL_COLOUR",
    "QUALITIES",
    "SPLEETER_2STEMS",
    "STEMS",
    "STEM_NAMES",
    "AudioError",
    "AudioInfo",
    "AudioLimitError",
    "BandPlan",
    "Engine",
    "EngineError",
    "Limits",
    "ModelError",
    "SeparationResult",
    "Stem",
    "format_label",
    "get_engine",
    "get_stem",
    "output_subtype",
    "probe",
    "read_header",
    "waveform_peaks",
]
