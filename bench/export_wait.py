"""How long a song waits for the embedded worker while a long export renders: yielding off
(the render runs to its end first) against on (it gives way between pieces), in one run.

A fresh embedded database (SQLite, local files) gets a ``--minutes`` long song at ``--rate``
(its two stems written directly, FLAC 24-bit: the dev clip resampled and repeated) and an
export of it at ``--tempo`` as ``--format`` (WAV at 50 % by default). For each mode one worker
(`jobs.worker.Worker`, in this process) takes the export; ``--arrive-after`` seconds into its
rendering a 16-second song is uploaded (the real upload path, `track_submit`), and the
song's wait is its separation's claim time minus its upload time. The song is separated by
the tests' fake engine: the wait is what this measures, not the separation. Figures are
printed, not asserted.

    .venv/bin/python bench/export_wait.py                 # 10 minutes at 192 kHz, 50 %, WAV
    .venv/bin/python bench/export_wait.py --minutes 2     # quicker
"""

import argparse
import dataclasses
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops"


def write_stems(folder: Path, *, minutes: float, rate: int) -> dict[str, Path]:
    """The dev clip's two stems at ``rate``, repeated to ``minutes``, written block by block."""
    import numpy as np
    import soundfile as sf
    import soxr

    stems = {}
    for stem, source in (("instrumental", "accompaniment"), ("vocals", "vocals")):
        data, clip_rate = sf.read(str(CLIP / f"{source}.flac"), dtype="float32", always_2d=True)
        data = soxr.resample(data, clip_rate, rate).astype(np.float32)
        path = folder / f"{stem}.flac"
        frames = int(minutes * 60 * rate)
        with sf.SoundFile(path, "w", rate, data.shape[1], subtype="PCM_24") as out:
            written = 0
            while written < frames:
                block = data[: frames - written]
                out.write(block)
                written += len(block)
        stems[stem] = path
    return stems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=192_000)
    parser.add_argument("--tempo", type=int, default=50, help="percent")
    parser.add_argument("--format", default="wav")
    parser.add_argument("--song-seconds", type=float, default=16.0)
    parser.add_argument("--arrive-after", type=float, default=10.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="jamwithme-export-wait-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "jamwithme.settings",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench"),
            "JAM_VAR_DIR": str(tmp / "var"),
            "JAM_SCRATCH_DIR": str(tmp / "scratch"),
            "JAM_USER_QUOTA_MB": "0",
            "JAM_RENDER_MAX_SECONDS": str(24 * 3600),
            "JAM_RENDER_MAX_MEMORY_MB": "4096",
        }
    )
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        os.environ.pop(name, None)
    import django

    django.setup()
    import shutil

    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import close_old_connections

    from bench.machine import machine
    from jobs import kinds
    from jobs.worker import Worker
    from practice.kind import RENDER
    from practice.models import Render, gains_key
    from separation.models import SeparationJob
    from tests import fakes
    from tests.factories import make_track
    from tracks import files
    from tracks.models import Asset, Track

    print(f"machine: {machine()}")
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user("bench", "bench@example.com", "x")
    started = time.monotonic()
    stems = write_stems(tmp, minutes=args.minutes, rate=args.rate)
    print(f"stems written in {time.monotonic() - started:.0f} s")
    track = Track.objects.create(
        owner=owner,
        title="Long song",
        duration_s=args.minutes * 60,
        sample_rate=args.rate,
        channels=2,
        container="flac",
        codec="flac",
    )
    prefix = files.new_run_prefix(track.id)
    for stem, path in stems.items():
        name = files.save_file(f"{prefix}-{stem}.flac", path)  # stored as FLAC: smaller
        Asset.objects.create(
            track=track, kind=Asset.Kind.STEM, stem=stem, name=name, size_bytes=path.stat().st_size
        )
        path.unlink()
    print(
        f"export: {args.minutes:g} min at {args.rate / 1000:g} kHz stereo, jam track + vocals, "
        f"tempo {args.tempo} %, {args.format.upper()}; a {args.song_seconds:g}-s song uploaded "
        f"{args.arrive_after:g} s into the rendering"
    )
    results = {}
    for yields in (False, True):
        kinds.register(dataclasses.replace(RENDER, yields=yields))
        Render.objects.all().delete()
        render = Render.objects.create(
            track=track,
            gains=gains_key({"instrumental": 100, "vocals": 10}),
            tempo=args.tempo,
            format=args.format,
            charged_to=owner,
        )
        song: list = []

        def upload_meanwhile(render_id=render.id, song=song) -> None:
            while not Render.objects.filter(id=render_id, phase=Render.Phase.RENDERING).exists():
                time.sleep(0.05)
            time.sleep(args.arrive_after)
            wav = fakes.write_wav(tmp / "song.wav", seconds=args.song_seconds)
            song.append(make_track(owner=owner, tmp_path=tmp, title="Short song", source=wav))
            close_old_connections()

        def finished(render_id=render.id, song=song) -> bool:
            if not song:
                return False
            active = Render.objects.filter(id=render_id, status__in=("queued", "running"))
            waiting = SeparationJob.objects.filter(track=song[0], status__in=("queued", "running"))
            return not active.exists() and not waiting.exists()

        uploader = threading.Thread(target=upload_meanwhile, daemon=True)
        uploader.start()
        worker = Worker(
            worker_id=f"bench:{os.getpid()}:{'yield' if yields else 'through'}",
            should_stop=finished,
            wait=lambda seconds: time.sleep(seconds),
            poll_interval_s=0.05,
            housekeeping_every_s=3600,
            options={"separation": {"engine": fakes.FakeEngine()}},
        )
        began = time.monotonic()
        worker.run()
        wall = time.monotonic() - began
        uploader.join()
        render.refresh_from_db()
        job = SeparationJob.objects.get(track=song[0])
        wait = (job.started_at - job.created_at).total_seconds()
        results[yields] = wait
        print(
            f"yielding {'on ' if yields else 'off'}: the song waited {wait:7.2f} s; the export "
            f"{render.status} in {wall:6.1f} s of worker time"
            + (", made again from the start after the song" if yields else "")
        )
        if render.asset_id:
            files.delete(render.asset.name)
    print(f"wait with yielding / without: {results[True] / results[False]:.4f}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
