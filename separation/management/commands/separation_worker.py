"""The embedded worker: one job at a time, of every kind (`jobs.worker`), the separation
model kept warm across jobs. A queued export is taken only while no song waits, and gives
way between its pieces as soon as one does (back to the queue, made after the song).

Housekeeping (the sweep) runs every RECOVER_EVERY_S whether the queue is busy or idle.
Stops cleanly on SIGTERM/SIGINT: a job in progress goes back to the queue.
"""

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

import engine as audio_engine
from jobs.scratch import scratch_sweep, use_process_scratch
from jobs.state import worker_identity
from jobs.worker import Worker
from separation.services.running import platform_engine

logger = logging.getLogger("separation.worker")
RECOVER_EVERY_S = 30.0


class Command(BaseCommand):
    help = "Run the worker: claim queued jobs (separations, exports) one at a time and run them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=None,
            help="Seconds between queue checks (SEPARATION_POLL_INTERVAL_S, 1 by default).",
        )
        parser.add_argument(
            "--once",
            action="store_true",
            help="Process the jobs queued now and exit when the queue is empty.",
        )

    def handle(self, *args, poll_interval: float | None, once: bool, **options):
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
        self.worker = Worker(
            worker_id=worker_id,
            should_stop=self.stopping.is_set,
            wait=self.stopping.wait,
            poll_interval_s=poll_interval or settings.SEPARATION_POLL_INTERVAL_S,
            housekeeping_every_s=RECOVER_EVERY_S,
            options={"separation": {"engine": engine}},
        )
        processed = self.worker.run(once=once)
        logger.info("Worker %s stopped after %d job(s)", worker_id, processed)

    def on_signal(self, signum, frame):
        logger.info("Worker got signal %s; stopping after the current step", signum)
        self.stopping.set()
