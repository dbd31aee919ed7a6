"""Offline separation: ``python manage.py separate SONG [SONG ...] --out DIR``.

Writes ``DIR/<song name>/accompaniment.wav`` and ``DIR/<song name>/vocals.wav`` (the Spleeter
CLI's layout) with the same warm engine the platform's worker uses, under the same decode
limits (``JAM_MAX_SAMPLE_RATE``, ``JAM_MAX_DECODED_SAMPLES``). A bad input gets a one-line
reason and a non-zero exit status; the other songs are still separated. With
``JAM_ENGINE_DEVICE=cuda`` the networks run on the GPU (docs/deploy.md, GPU workers).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.stems import JAM_TRACK
from engine import QUALITIES, EngineError, get_engine
from tracks.services import audio_limits


def output_folder_name(song: Path) -> str:
    """The song's name without extension, never ``..`` or hidden (``...wav`` has stem ``..``)."""
    return song.stem.strip().lstrip(".") or "song"


class ProgressBar:
    WIDTH = 30

    def __init__(self, stream, label: str) -> None:
        self._stream = stream
        self._label = label
        self._interactive = stream.isatty()
        self._last_step = -1

    def __call__(self, fraction: float) -> None:
        percent = int(fraction * 100)
        if not self._interactive:
            step = percent // 25  # a line at 0, 25, 50, 75 and 100 %
            if step == self._last_step:
                return
            self._last_step = step
        filled = int(self.WIDTH * fraction)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        end = "\r" if self._interactive and fraction < 1 else "\n"
        self._stream.write(f"{self._label} [{bar}] {percent:3d}%{end}")
        self._stream.flush()


class Command(BaseCommand):
    help = "Separate songs into accompaniment.wav (the jam track) and vocals.wav."
    # The system checks import every URLconf and view (boto3, Celery, ...): ~0.4 s of a
    # cold start, for a command that uses neither the database nor a URL.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("songs", nargs="+", type=Path, help="audio files to separate")
        parser.add_argument("--out", "-o", type=Path, required=True, help="output folder")
        parser.add_argument(
            "--max-duration",
            type=float,
            default=settings.JAM_MAX_DURATION_S,
            help="refuse songs longer than this many seconds (0: no limit); "
            "default JAM_MAX_DURATION_S",
        )
        parser.add_argument(
            "--quality",
            choices=list(QUALITIES),
            default="standard",
            help="cleaner: Spleeter's Wiener filter after the model, a little less of the "
            "singer left in the jam track, about twice the time (default standard)",
        )

    def handle(
        self, *args, songs: list[Path], out: Path, max_duration: float, quality: str, **options
    ):
        try:
            engine = get_engine(
                model_root=settings.JAMWITHME_MODEL_DIR,
                threads=settings.JAMWITHME_MODEL_THREADS,
                device=settings.JAM_ENGINE_DEVICE,
            )
        except EngineError as error:
            raise CommandError(str(error)) from error
        limits = replace(audio_limits(), max_duration_s=max_duration or None)
        failures = []
        for song in songs:
            target = out / output_folder_name(song)
            label = song.name if len(song.name) <= 40 else song.name[:37] + "..."
            started = time.monotonic()
            try:
                result = engine.separate_file(
                    song,
                    target,
                    progress=ProgressBar(sys.stderr, label),
                    limits=limits,
                    quality=quality,
                )
            except EngineError as error:
                failures.append(str(error))
                if len(songs) > 1:
                    self.stderr.write(f"error: {error}")
                continue
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"{song.name}: {result.info.duration_s:.1f} s of audio in {elapsed:.1f} s "
                f"-> {result.stems[JAM_TRACK].parent}/"
            )
        if len(songs) == 1 and failures:
            raise CommandError(failures[0])  # the one reason, not a count under it
        if failures:
            raise CommandError(f"{len(failures)} of {len(songs)} songs could not be separated.")
