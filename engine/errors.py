"""Errors the engine raises. Their text is shown to people as it is: one line, no traceback."""


class EngineError(Exception):
    """Base class for the engine's own errors."""


class AudioError(EngineError):
    """The input is not usable audio (not audio, truncated, empty, silent, too long, ...)."""


class AudioLimitError(AudioError):
    """The input may be fine, but it is more audio than the caller's limits allow."""


class ModelError(EngineError):
    """The model cannot run: weights missing or corrupt."""
