"""A test double for the separation engine, following its contract (engine).

`FakeEngine` writes real WAV files, so everything after separation (storage, waveforms,
downloads) runs for real with the real `probe` and `waveform_peaks`.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from django.core.files import File
from django.core.files.storage import FileSystemStorage

from catalog.stems import STEMS


@dataclass(frozen=True)
class FakeResult:
    stems: dict[str, Path]
    info: object


def write_wav(path: Path, *, seconds: float = 1.0, sample_rate: int = 44100, channels: int = 2):
    """A short stereo sine tone, a valid WAV file."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    data = np.stack([tone] * channels, axis=1).astype(np.float32)
    sf.write(path, data, sample_rate, subtype="PCM_16")
    return path


class FakeEngine:
    """Halves the input into each stem of the registry; optionally fails or stalls."""

    def __init__(self, *, fail_with: Exception | None = None, on_progress=None):
        self.fail_with = fail_with
        self.on_progress = on_progress
        self.calls: list[Path] = []
        self.qualities: list[str] = []

    def separate_file(
        self,
        src_path,
        out_dir,
        progress=None,
        max_duration_s=None,
        name=None,
        limits=None,
        quality="standard",
    ):
        import engine

        self.calls.append(Path(src_path))
        self.qualities.append(quality)
        if self.fail_with is not None:
            raise self.fail_with
        data, rate = sf.read(str(src_path), dtype="float32", always_2d=True)
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        for fraction in (0.25, 0.5, 1.0):
            if self.on_progress is not None:
                self.on_progress(fraction)
            if progress is not None:
                progress(fraction)
        stems = {}
        for stem in STEMS:
            stems[stem.name] = out_dir / f"{stem.output}.wav"
            sf.write(stems[stem.name], data * 0.5, rate)
        return FakeResult(stems=stems, info=engine.probe(src_path))


class SlowStorage(FileSystemStorage):
    """Real file storage on a slow disk or network: ``before_chunk()`` is called ahead of
    every chunk it reads (the time that chunk takes: a test moves its clock there, e.g.
    ages a heartbeat, instead of sleeping), and ``after_save(name)`` once each file is
    stored."""

    before_chunk = None
    after_save = None

    def _save(self, name, content):
        reader = _SlowReader(content, type(self).before_chunk)
        saved = super()._save(name, File(reader, name=content.name))
        if type(self).after_save is not None:
            type(self).after_save(saved)
        return saved


class _SlowReader:
    def __init__(self, content, before_chunk):
        self._content = content
        self._before_chunk = before_chunk
        self.size = content.size

    def read(self, *args):
        if self._before_chunk is not None:
            self._before_chunk()
        return self._content.read(*args)

    def seek(self, *args):
        return self._content.seek(*args)

    def tell(self):
        return self._content.tell()


class RefusingStorage(FileSystemStorage):
    """Real file storage that can be told to refuse writes or deletions, as a full or
    read-only disk, or an unreachable object store, does."""

    refuse_save = False
    refuse_delete = False

    def _save(self, name, content):
        if type(self).refuse_save:
            raise PermissionError(13, "Permission denied", name)
        return super()._save(name, content)

    def delete(self, name):
        if type(self).refuse_delete:
            raise PermissionError(13, "Permission denied", name)
        return super().delete(name)


_worker_songs = 0  # songs this worker process has started separating (FAKE_ENGINE_HOLD_AFTER)


def worker_engine():
    """SEPARATION_ENGINE_FACTORY for the real Celery workers the tests start: a FakeEngine.
    With FAKE_ENGINE_HOLD set to a path, it touches that file halfway through a song and
    stops there (the test then kills the worker mid-job); with FAKE_ENGINE_HOLD_AFTER=N too,
    only from the process's song N+1 on, so the worker first finishes N songs; with
    FAKE_ENGINE_RELEASE set to a path, it goes on once that file exists. A song counts when
    its separation starts: a message that finds its job already claimed (a duplicate the
    sweep sent) separates nothing and counts for nothing."""
    import os

    counted = False

    def halfway(fraction):
        global _worker_songs
        nonlocal counted
        if not counted:
            counted = True
            _worker_songs += 1
        hold = os.environ.get("FAKE_ENGINE_HOLD")
        if _worker_songs <= int(os.environ.get("FAKE_ENGINE_HOLD_AFTER", "0")):
            hold = None
        if hold and fraction >= 0.5:
            Path(hold).touch()
            release = os.environ.get("FAKE_ENGINE_RELEASE")
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline and not (release and Path(release).exists()):
                time.sleep(0.1)

    return FakeEngine(on_progress=halfway)
