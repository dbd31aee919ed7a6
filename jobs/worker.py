"""The embedded worker's loop, for every registered kind of job: one job at a time, the
next in the fair order (turns across users, `jobs.state.fair_order`) of the first kind in
the registry's order, but never the same kind twice in a row while another kind waits (a
stream of exports must not hold every upload back).
A run of a kind that yields (renders) gives way between its pieces as soon as a job of another
kind is queued: it goes back to the queue and starts again after that job, so a song waits
for one piece of a render at most, never for the whole render.

Housekeeping (the sweep: recovering dead workers' jobs, the apps' chores, scratch folders)
runs on a monotonic deadline, busy or idle: a worker whose queue never empties still
recovers the jobs of the dead. The clock is injected, so a test can move time on.
"""

import logging
import time
from collections.abc import Callable

from django.db import close_old_connections

from jobs import kinds, runner, services
from jobs.kinds import JobKind

logger = logging.getLogger("separation.worker")
# A yielding run asks whether another job waits at most this often (its pieces are shorter).
YIELD_CHECK_EVERY_S = 0.5


class Worker:
    def __init__(
        self,
        *,
        worker_id: str,
        should_stop: Callable[[], bool],
        wait: Callable[[float], object],
        poll_interval_s: float,
        housekeeping_every_s: float,
        clock: Callable[[], float] = time.monotonic,
        options: dict[str, dict] | None = None,
    ):
        """``wait(seconds)`` sleeps until then or until the worker is told to stop;
        ``options`` are each kind's options for its work, by kind name."""
        self.worker_id = worker_id
        self.should_stop = should_stop
        self.wait = wait
        self.poll_interval_s = poll_interval_s
        self.housekeeping_every_s = housekeeping_every_s
        self.clock = clock
        self.options = options or {}
        self.last_kind: str | None = None
        self.processed = 0
        self.housekeeping_due = clock()  # at start: what the dead left

    def run(self, *, once: bool = False) -> int:
        """Work until told to stop (or, ``once``, until the queue is empty). Returns how many
        jobs it ran."""
        while not self.should_stop():
            self.housekeep_if_due()
            close_old_connections()
            if self.run_next() is not None:
                continue
            if once:
                break
            self.wait(self.poll_interval_s)
        close_old_connections()
        try:
            services.worker_gone(name=self.worker_id)
        except Exception:
            logger.warning("Could not remove worker %s's heartbeat row", self.worker_id)
        return self.processed

    def housekeep_if_due(self) -> bool:
        if self.clock() < self.housekeeping_due:
            return False
        close_old_connections()
        try:
            services.worker_beat(
                name=self.worker_id, queues=[kind.queue for kind in kinds.all_kinds()]
            )
            services.jobs_sweep()
        except Exception:
            # The database is away for a moment: log it, try again next time.
            logger.exception("Housekeeping failed")
        self.housekeeping_due = self.clock() + self.housekeeping_every_s
        return True

    def order(self) -> list[JobKind]:
        """The kinds in the order this round tries them: the registry's, with the kind that
        ran last moved to the end."""
        registered = kinds.all_kinds()
        return [k for k in registered if k.name != self.last_kind] + [
            k for k in registered if k.name == self.last_kind
        ]

    def others_waiting(self, kind: JobKind) -> bool:
        """Whether a job of another kind than ``kind`` is queued."""
        return any(services.job_waiting(k) for k in kinds.all_kinds() if k.name != kind.name)

    def waiting_besides(self, kind: JobKind) -> Callable[[], bool]:
        """`others_waiting`, as a kind that yields asks it between its pieces: at most every
        YIELD_CHECK_EVERY_S (of the process's own clock; the injected one times housekeeping)."""
        checked_at, waiting = [None], [False]

        def check() -> bool:
            now = time.monotonic()
            if checked_at[0] is None or now - checked_at[0] >= YIELD_CHECK_EVERY_S:
                waiting[0] = self.others_waiting(kind)
                checked_at[0] = now
            return waiting[0]

        return check

    def run_next(self) -> runner.Outcome | None:
        """Run the next job, if any; its outcome, or None when every queue is empty."""
        for kind in self.order():
            if kind.yields and self.others_waiting(kind):
                continue  # it would only give way at once: the waiting job first
            job = services.job_claim_next(kind, worker_id=self.worker_id)
            if job is None:
                continue
            logger.info("Worker %s took %s %s", self.worker_id, kind.name, job.pk)
            outcome = runner.job_run(
                kind,
                job=job,
                worker_id=self.worker_id,
                should_stop=self.should_stop,
                should_yield=self.waiting_besides(kind) if kind.yields else lambda: False,
                **self.options.get(kind.name, {}),
            )
            logger.info("%s %s finished as %s", kind.name.capitalize(), job.pk, outcome)
            self.processed += 1
            self.last_kind = kind.name
            return outcome
        return None
