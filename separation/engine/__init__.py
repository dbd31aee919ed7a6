"""The separation engine: decode, run Spleeter's 2-stem U-Nets warm, encode.

Pure audio and model code. It imports no Django model, no Channels and no Celery, so
``manage.py separate``, the platform's worker and ``bench/separation.py`` all run the same code.
"""

from .audio import AudioInfo, probe, waveform_peaks
from .dsp import FULL_BAND, SPLEETER_2STEMS, BandPlan
from .errors import AudioError, EngineError, ModelError
from .separator import Engine, SeparationResult, get_engine

__all__ = [
    "FULL_BAND",
    "SPLEETER_2STEMS",
    "AudioError",
    "AudioInfo",
    "BandPlan",
    "Engine",
    "EngineError",
    "ModelError",
    "SeparationResult",
    "get_engine",
    "probe",
    "waveform_peaks",
]
