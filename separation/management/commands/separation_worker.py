"""The embedded separation worker: one job at a time, model kept warm across jobs. It also
makes exports (practice/): a queued render is taken before the next song, as it takes a
fraction of a separation's time (bench/render.py).

Stops cleanly on SIGTERM/SIGINT: a job in progress goes back to the queue.
"""

import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

import engine as audio_engine
from jobs.state import worker_identity
from practice.dispatch import render_recover_orphans
from practice.services import render_claim_next, render_run
from separation.services.dispatch import job_recover_orphans
from separation.services.running import job_run, platform_engine
from separation.services.scratch import scratch_sweep, use_process_scratch
from separation.services.state import job_claim_next
from tracks.services import track_retry_file_deletions

logger = logging.getLogger("separation.worker")
RECOVER_EVERY_S = 30.0


class Command(BaseCommand):
    help = "Run the separation worker: claim queued jobs one at a time and separate them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll-interval", type=float, default=1.0, help="Seconds between queue checks."
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Process the jobs queued now and exit when the queue is empty.",
        )

    def handle(self, *args, poll_interval: float, once: bool, **options):
        self.stopping = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.on_signal)
            signal.signal(signal.SIGINT, self.on_signal)

        worker_id = worker_identity()
        scratch_sweep()  # what workers on this host left when they died
        use_process_scratch()
        try:
            engine = platform_engine()
        except audio_engine.ModelError as exc:
            raise CommandError(f"Cannot start: the separation model is unavailable: {exc}") from exc
        logger.info("Worker %s ready", worker_id)

        close_old_connections()
        self.housekeeping()
        since_recovery = 0.0
        processed = 0
        last_was_render = False
        while not self.stopping.is_set():
            close_old_connections()
            # Exports are short and come first, but never twice in a row while a song
            # waits: a stream of exports (anyone may ask for one after another) must not
            # hold every upload on the site back.
            first, then = (self.next_job, self.next_render)
            if not last_was_render:
                first, then = then, first
            took = first(worker_id, engine) or then(worker_id, engine)
            if took is not None:
                processed += 1
                last_was_render = took == "render"
                continue
            if once:
                break
            self.stopping.wait(poll_interval)
            since_recovery += poll_interval
            if since_recovery >= RECOVER_EVERY_S:
                close_old_connections()
                self.housekeeping()
                since_recovery = 0.0
        close_old_connections()
        logger.info("Worker %s stopped after %d job(s)", worker_id, processed)

    def next_render(self, worker_id: str, engine) -> str | None:
        """Make the export that has waited longest, if any: "render"."""
        render = render_claim_next(worker_id=worker_id)
        if render is None:
            return None
        logger.info("Worker %s took render %s", worker_id, render.id)
        status = render_run(render=render, worker_id=worker_id, should_stop=self.stopping.is_set)
        logger.info("Render %s finished as %s", render.id, status)
        return "render"

    def next_job(self, worker_id: str, engine) -> str | None:
        """Separate the song that has waited longest, if any: "job"."""
        job = job_claim_next(worker_id=worker_id)
        if job is None:
            return None
        logger.info("Worker %s took job %s", worker_id, job.id)
        status = job_run(
            job=job, worker_id=worker_id, engine=engine, should_stop=self.stopping.is_set
        )
        logger.info("Job %s finished as %s", job.id, status)
        return "job"

    def housekeeping(self) -> None:
        """What any live worker does for the dead: take back their jobs and renders, retry the file
        deletions storage refused earlier, and sweep dead workers' scratch folders."""
        job_recover_orphans()
        render_recover_orphans()
        track_retry_file_deletions()
        scratch_sweep()  # a worker beside this one may have died since

    def on_signal(self, signum, frame):
        logger.info("Worker got signal %s; stopping after the current step", signum)
        self.stopping.set()
