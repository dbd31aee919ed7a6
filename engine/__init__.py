"""The separation engine: decode, run Spleeter's 2-stem U-Nets warm, encode.

Pure audio and model code. It imports no Django, Channels, Celery or app module, and reads no
environment variable (only ``python -m engine`` does): configuration comes in as arguments, so
``manage.py separate``, the platform's worker and ``bench/separation.py`` all run the same code.
Its only import from the project is the stem registry (`catalog.stems`), the bottom package.

Names are loaded on first use (PEP 562), so importing the package, or one light part of it
(reading a file's header: `engine.audio`), loads neither SciPy, soxr nor ONNX Runtime: a web
process that checks an upload's header stays light.
"""

from importlib import import_module

# Where each public name lives, by submodule.
_NAMES = {
    "audio": (
        "NO_LIMITS", "AudioInfo", "Limits", "format_label", "output_subtype", "probe",
        "read_header", "waveform_peaks",
    ),
    "dsp": ("FULL_BAND", "QUALITIES", "SPLEETER_2STEMS", "BandPlan"),
    "errors": ("AudioError", "AudioLimitError", "EngineError", "ModelError"),
    "separator": ("Engine", "SeparationResult", "get_engine"),
    "tempo": ("estimate_tempo",),
    "weights": ("ENGINE_VERSION", "model_identity"),
}  # fmt: skip
_WHERE = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
