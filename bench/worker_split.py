"""Songs per hour through the whole job path: one worker with every core against two
workers of one network thread each, on the same batch, in the same run.

docs/deploy.md's advice on how to split a machine's cores (issue 21: on the trial machine
one worker with every core did 836 songs an hour against 501-690 for two single-thread
workers). Each pass queues ``--songs`` copies of a ``--minutes`` song in a fresh embedded
database (the real model), starts the workers (`manage.py separation_worker --once`, one
warm engine each, `JAMWITHME_MODEL_THREADS` set for the split) and takes, from the job
rows, the time from the first claim to the last "done": model loading is left out. The
passes alternate (one, two, one, two...) so that a machine whose load drifts weighs on
both. Figures are printed with the machine line, never asserted.

    .venv/bin/python bench/worker_split.py                    # 6 songs of 1 minute, 2 rounds
    .venv/bin/python bench/worker_split.py --songs 8 --minutes 4 --rounds 3
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"

QUEUE = """
import shutil
from django.contrib.auth.models import User
from django.core.files.uploadedfile import TemporaryUploadedFile
from separation.services.dispatch import track_submit
owner = User.objects.create_user("bench", "bench@example.com", "x")
for n in range({songs}):
    upload = TemporaryUploadedFile("song.flac", "audio/flac", 0, None)
    with open({song!r}, "rb") as source:
        shutil.copyfileobj(source, upload)
    upload.size = upload.tell()
    upload.seek(0)
    track_submit(owner=owner, upload=upload, title=f"Song {{n}}")
    try:
        upload.close()
    except FileNotFoundError:
        pass
"""

REPORT = """
from separation.models import SeparationJob
for job in SeparationJob.objects.order_by("id"):
    print("JOB", job.status, job.started_at.isoformat(), job.finished_at.isoformat())
"""


def one_pass(tmp: Path, song: Path, songs: int, workers: int, threads: int) -> tuple:
    """(songs an hour, statuses) for ``workers`` workers of ``threads`` threads (0: all)."""
    var = tmp / f"var-{workers}x{threads}-{os.urandom(3).hex()}"
    env = {
        **os.environ,
        "JAM_VAR_DIR": str(var),
        "JAM_SCRATCH_DIR": str(var / "scratch"),
        "JAM_USER_MAX_ACTIVE_JOBS": str(songs + 1),
        "JAM_USER_QUOTA_MB": "0",
        "JAMWITHME_MODEL_THREADS": str(threads),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(name, None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
    code = QUEUE.format(songs=songs, song=str(song))
    subprocess.run([*manage, "shell", "-c", code], env=env, check=True, cwd=ROOT)
    children = [
        subprocess.Popen(
            [*manage, "separation_worker", "--once"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    for child in children:
        child.wait()
    rows = subprocess.run(
        [*manage, "shell", "-c", REPORT], env=env, check=True, cwd=ROOT, capture_output=True
    )
    jobs = [line.split()[1:] for line in rows.stdout.decode().splitlines() if line[:4] == "JOB "]
    starts = [datetime.fromisoformat(start) for _, start, _ in jobs]
    ends = [datetime.fromisoformat(end) for _, _, end in jobs]
    span = (max(ends) - min(starts)).total_seconds()
    return songs * 3600 / span, sorted({status for status, _, _ in jobs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=6, help="songs in each pass")
    parser.add_argument("--minutes", type=float, default=1.0, help="each song's length")
    parser.add_argument("--rounds", type=int, default=2, help="passes of each split")
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from bench.machine import machine

    cores = os.cpu_count() or 1
    splits = [(1, 0, "1 worker, every core"), (2, 1, "2 workers x 1 thread")]
    results: dict[str, list[float]] = {label: [] for _, _, label in splits}
    print(machine())
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="jamwithme-split-") as tmp:
        tmp = Path(tmp)
        audio, rate = sf.read(CLIP, dtype="float32")
        repeats = int(np.ceil(args.minutes * 60 * rate / len(audio)))
        song = tmp / "song.flac"
        sf.write(song, np.concatenate([audio] * repeats)[: int(args.minutes * 60 * rate)], rate)
        for round_ in range(args.rounds):
            for workers, threads, label in splits:
                per_hour, statuses = one_pass(tmp, song, args.songs, workers, threads)
                results[label].append(per_hour)
                print(
                    f"round {round_ + 1}, {label}: {per_hour:.0f} songs/hour "
                    f"({', '.join(statuses)})",
                    flush=True,
                )
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.songs} songs of {args.minutes:g} min a pass, {cores} cores, the real model")
    one = statistics.median(results[splits[0][2]])
    for _, _, label in splits:
        median = statistics.median(results[label])
        print(f"{label}: median {median:.0f} songs/hour ({median / one:.2f}x one worker)")


if __name__ == "__main__":
    main()
