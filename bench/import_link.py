"""Add from a link, timed from paste to done: a 3-minute song (the dev clip, tests/data,
repeated) served from a media server on loopback as a page with <audio>, imported (the
guard, yt-dlp, the full decode, storing) and then separated by the real engine, in this
process on a scratch SQLite database. The baseline, in the same run on the same warm
engine: the same song uploaded (the upload path's checks and store, then the separation).
A worker's first import loads yt-dlp's extractors (seconds); the same worker's next import
is timed too. Prints the figures and the ratio; asserts nothing.

    .venv/bin/python bench/import_link.py               # 3-minute song
    .venv/bin/python bench/import_link.py --minutes 1
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"


def make_song(path: Path, minutes: float) -> Path:
    data, rate = sf.read(str(CLIP), dtype="float32", always_2d=True)
    frames = int(minutes * 60 * rate)
    song = np.tile(data, (int(np.ceil(frames / len(data))), 1))[:frames]
    sf.write(str(path), song, rate)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    from bench.machine import machine

    scratch = Path(tempfile.mkdtemp(prefix="bench-import-"))
    os.environ.update(
        JAM_VAR_DIR=str(scratch / "var"),
        DJANGO_SETTINGS_MODULE="jamwithme.settings",
        DEBUG="false",
        JAM_SCRATCH_DIR=str(scratch / "work"),
    )
    os.environ.pop("DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True, env=os.environ
    )
    song = make_song(scratch / "song.flac", args.minutes)
    from tests.imports.media_server import MediaServer

    with MediaServer(song=song) as media:
        os.environ["JAM_IMPORT_TEST_ALLOW"] = media.address
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from imports.services import import_submit
        from jobs.runner import job_process
        from separation.services.dispatch import track_submit
        from separation.services.running import platform_engine
        from tests.factories import temporary_upload

        engine = platform_engine()  # warm, as a worker's is
        owner = get_user_model().objects.create_user("bench", password="x")
        # A first separation warms what a long-running worker has warm (the model's
        # sessions, the allocator); it is not counted.
        upload = temporary_upload(CLIP, "warm-up.flac")
        warm = track_submit(owner=owner, upload=upload)
        upload.close()
        job_process("separation", job_id=warm.job.id, worker_id="bench", engine=engine)

        started = time.perf_counter()
        upload = temporary_upload(song, "song.flac")
        track = track_submit(owner=owner, upload=upload)
        upload.close()
        stored = time.perf_counter()
        job_process("separation", job_id=track.job.id, worker_id="bench", engine=engine)
        uploaded_done = time.perf_counter()
        track.job.refresh_from_db()
        assert track.job.status == "done", track.job.error

        pasted = time.perf_counter()
        track = import_submit(owner=owner, url=media.url("/page.html"))
        job_process("import", job_id=track.import_job.id, worker_id="bench")
        fetched = time.perf_counter()
        track.refresh_from_db()
        job_process("separation", job_id=track.job.id, worker_id="bench", engine=engine)
        imported_done = time.perf_counter()
        track.job.refresh_from_db()
        assert track.job.status == "done", track.job.error

        # The same worker's next import: yt-dlp's extractors are loaded by now.
        again = time.perf_counter()
        second = import_submit(owner=owner, url=media.url("/page.html"))
        job_process("import", job_id=second.import_job.id, worker_id="bench")
        fetched_again = time.perf_counter() - again

    upload_total = uploaded_done - started
    import_total = imported_done - pasted
    print(machine())
    print(f"song: {args.minutes:g} min, {song.stat().st_size / 2**20:.1f} MB FLAC, on loopback")
    print(f"upload (baseline): stored {stored - started:.2f} s, done {upload_total:.2f} s")
    print(
        f"import: paste -> fetched, decoded and stored {fetched - pasted:.2f} s, "
        f"paste -> done {import_total:.2f} s (its separation {imported_done - fetched:.2f} s)"
    )
    print(f"the same worker's next import: fetched, decoded and stored {fetched_again:.2f} s")
    print(f"ratio import / upload, paste to done: {import_total / upload_total:.2f}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
