"""Each user's wait for a mixed batch, first in first out (before) and fair (after).

One user queues 24 songs, then three others one each (issue 21's trial); ``--workers``
threads claim and run them through the real pipeline (`jobs.services.job_claim_next`, the
runner, the job rows in a fresh SQLite database), each job a synthetic one that sleeps
``--job-s``. The same batch runs twice in the same process: with claims first in, first
out (the kind's ``owner=None``: the old order), then round-robin across users (the kind's
default). Prints, for each user, the seconds from the start until their last job is done,
in jobs' time too (wait / job-s / workers would be the queue's length ahead of it).

    .venv/bin/python bench/fair_queue.py
    .venv/bin/python bench/fair_queue.py --workers 2 --job-s 0.2 --batch 24
"""

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JOB_S = 0.2


def sleep_work(job, run):
    """A synthetic job: it takes JOB_S and makes nothing."""
    from jobs.runner import Made

    run.phase("working")(0.0)
    time.sleep(JOB_S)
    return Made()


def one_pass(kind, owners, workers: int) -> dict[str, float]:
    """Queue the batch, run it with ``workers`` threads; each owner's seconds until done."""
    from django.db import connection

    from jobs.runner import job_run
    from jobs.services import job_claim_next
    from practice.models import Render
    from tracks.models import Track

    Render.objects.all().delete()
    Track.objects.all().delete()
    for n, owner in enumerate(owners):
        Render.objects.create(track=Track.objects.create(owner=owner, title=f"Song {n}"))
    finished: dict[str, float] = {}
    lock = threading.Lock()
    started = time.monotonic()

    def worker(n: int) -> None:
        try:
            while (job := job_claim_next(kind, worker_id=f"bench:{n}")) is not None:
                job_run(kind, job=job, worker_id=f"bench:{n}")
                with lock:
                    name = job.track.owner.username
                    finished[name] = time.monotonic() - started
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return finished


def main() -> None:
    global JOB_S
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--job-s", type=float, default=JOB_S)
    parser.add_argument("--batch", type=int, default=24)
    args = parser.parse_args()
    JOB_S = args.job_s

    tmp = tempfile.mkdtemp(prefix="jamwithme-fair-")
    os.environ.update(JAM_VAR_DIR=tmp, JAM_SCRATCH_DIR=str(Path(tmp) / "scratch"))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")
    import django

    django.setup()
    logging.disable(logging.INFO)  # the runner's lines, one per job
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from bench.machine import machine
    from jobs import kinds
    from jobs.kinds import JobKind
    from practice.kind import RENDER

    call_command("migrate", verbosity=0)
    users = [User.objects.create_user(name, f"{name}@example.com", "x") for name in "abcd"]
    owners = [users[0]] * args.batch + users[1:]
    fair = JobKind(
        **{
            **{f.name: getattr(RENDER, f.name) for f in dataclasses.fields(RENDER)},
            "name": "bench",
            "work": "__main__.sleep_work",
            "phases": {"working": (0, 99)},
            "publish": lambda job_id: None,
        }
    )
    fifo = dataclasses.replace(fair, owner=None)
    print(machine())
    print(
        f"{args.batch} jobs from user a, then 1 each from b, c, d; {args.workers} workers; "
        f"each job {args.job_s:g} s"
    )
    results = {}
    for label, kind in (("first in, first out", fifo), ("fair", fair)):
        kinds.register(kind)
        results[label] = one_pass(kind, owners, args.workers)
    print(f"{'user':<6}{'jobs':>6}{'FIFO wait s':>14}{'fair wait s':>14}{'fair/FIFO':>11}")
    for user in users:
        jobs = owners.count(user)
        before = results["first in, first out"][user.username]
        after = results["fair"][user.username]
        print(f"{user.username:<6}{jobs:>6}{before:>14.2f}{after:>14.2f}{after / before:>11.2f}")
    singles = [results["fair"][u.username] for u in users[1:]]
    print(
        f"the single songs' longest wait: {max(singles) / args.job_s:.1f} jobs' time fair, "
        f"{max(results['first in, first out'][u.username] for u in users[1:]) / args.job_s:.1f}"
        " first in, first out"
    )


if __name__ == "__main__":
    main()
