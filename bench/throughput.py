"""Songs per hour for one separation worker, through the whole job path.

Queues N copies of a 4-minute song (by default) in a fresh embedded database, then runs
`manage.py separation_worker --once` in one process (one warm engine, as a real worker) and
prints the time per song from the job rows: claim to done, which covers the copy in, the
decode, the two networks, the waveforms and the storing. Figures are printed, not asserted.

    .venv/bin/python bench/throughput.py            # 5 songs of 4 minutes
    .venv/bin/python bench/throughput.py --songs 3 --minutes 2
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=4.0)
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="jamwithme-throughput-") as tmp:
        tmp = Path(tmp)
        audio, rate = sf.read(CLIP, dtype="float32")
        repeats = int(np.ceil(args.minutes * 60 * rate / len(audio)))
        song = tmp / "song.flac"
        sf.write(song, np.concatenate([audio] * repeats)[: int(args.minutes * 60 * rate)], rate)
        env = {
            **os.environ,
            "JAM_VAR_DIR": str(tmp / "var"),
            "JAM_SCRATCH_DIR": str(tmp / "scratch"),
            "JAM_USER_MAX_ACTIVE_JOBS": str(args.songs + 1),
            "JAM_USER_QUOTA_MB": "0",
        }
        for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
            env.pop(name, None)
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        queue = f"""
from django.contrib.auth.models import User
from django.core.files.uploadedfile import TemporaryUploadedFile
from separation.services.dispatch import track_submit
import shutil
owner = User.objects.create_user("bench", "bench@example.com", "x")
for n in range({args.songs}):
    upload = TemporaryUploadedFile("song.flac", "audio/flac", 0, None)
    with open({str(song)!r}, "rb") as source:
        shutil.copyfileobj(source, upload)
    upload.size = upload.tell()
    upload.seek(0)
    track_submit(owner=owner, upload=upload, title=f"Song {{n}}")
    try:
        upload.close()
    except FileNotFoundError:
        pass  # storage moved the temporary file into place
"""
        subprocess.run([*manage, "shell", "-c", queue], env=env, check=True, cwd=ROOT)
        started = time.monotonic()
        subprocess.run(
            [*manage, "separation_worker", "--once"],
            env=env,
            check=True,
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        wall = time.monotonic() - started
        report = """
from separation.models import SeparationJob
for job in SeparationJob.objects.order_by("id"):
    print("JOB", job.status, (job.finished_at - job.started_at).total_seconds())
"""
        rows = subprocess.run(
            [*manage, "shell", "-c", report],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
    jobs = [line.split()[1:] for line in rows if line.startswith("JOB ")]
    statuses, seconds = [status for status, _ in jobs], [float(value) for _, value in jobs]
    warm = seconds[1:] or seconds
    per_song = statistics.median(warm)
    print(f"machine: {os.cpu_count()} cores; {args.songs} songs of {args.minutes:g} min")
    print(f"statuses: {', '.join(sorted(set(statuses)))}")
    print("per song, claim to done (s): " + ", ".join(f"{value:.1f}" for value in seconds))
    print(f"worker process wall, model load included: {wall:.1f} s")
    print(f"median warm song: {per_song:.1f} s -> {3600 / per_song:.0f} songs per hour per worker")
    print(f"real-time factor (song length / time): {args.minutes * 60 / per_song:.1f}x")


if __name__ == "__main__":
    main()
