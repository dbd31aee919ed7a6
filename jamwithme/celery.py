"""Celery app for the scale-out mode (CELERY_BROKER_URL set). Unused in the embedded mode.

Loaded by `celery -A jamwithme` (Celery finds jamwithme.celery) and, in a process that sends
jobs, on its first send (`jobs.services.celery_app`, JOBS_CELERY_APP), so tasks go out with
this configuration: the broker from settings, the `separation` and `renders` queues (each job
kind names its own, `jobs.kinds`). Workers:
`celery -A jamwithme worker -Q separation,renders --concurrency 1` (or one worker per queue).

Every worker also sweeps (`jobs.services.jobs_sweep`, the same sweep as the embedded
worker's), in a thread of its main process, at start and every SEPARATION_SWEEP_EVERY_S:
dead workers' jobs of every kind are taken back and sent again, queued jobs whose message
may be lost are sent again, the apps' chores run (refused file deletions are retried), dead
processes' scratch folders deleted. Each step is a conditional update or
idempotent, so any number of workers may sweep at once, and no separate scheduler (beat)
has to be run and kept single.
"""

import logging
import os
import threading

from celery import Celery
from celery.signals import (
    celeryd_after_setup,
    setup_logging,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")

app = Celery("jamwithme")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("separation.worker")
_stop_sweeping = threading.Event()
_sweeper: list[threading.Thread] = []


@setup_logging.connect
def _keep_djangos_logging(**kwargs):
    """Celery configures no logging of its own: Django's LOGGING (LOG_LEVEL, LOG_FORMAT)
    already did, in every process, so a worker logs like the web process — without this,
    Celery would set the root level from its `--loglevel` (WARNING) and drop the INFO lines."""


@celeryd_after_setup.connect
def _name_the_node(sender=None, **kwargs):
    """Every line of this worker, and of its pool's processes (forked after this), says
    which node it is (`node` in JSON logs)."""
    from jobs.logcontext import set_node

    set_node(str(sender))


@worker_process_init.connect
def _worker_scratch(**kwargs):
    """Each pool process works in its own scratch folder; dead ones' are swept first."""
    from jobs.scratch import scratch_sweep, use_process_scratch

    scratch_sweep()
    use_process_scratch()


@worker_ready.connect
def _start_sweeping(sender=None, **kwargs):
    from django.conf import settings

    _worker_scratch()  # the solo pool runs tasks in this process, without a process init
    _stop_sweeping.clear()
    node = getattr(sender, "hostname", None) or "celery@unknown"
    queues = list(sender.app.amqp.queues.consume_from) if sender is not None else []
    thread = threading.Thread(
        target=_sweep_loop,
        args=(settings.SEPARATION_SWEEP_EVERY_S, node, queues),
        name="separation-sweep",
        daemon=True,
    )
    thread.start()
    _sweeper[:] = [thread]


@worker_shutdown.connect
def _stop(**kwargs):
    _stop_sweeping.set()
    for thread in _sweeper:  # it removes this worker's heartbeat row as it ends
        thread.join(timeout=5)


def _sweep_loop(every_s: float, node: str, queues: list[str]) -> None:
    """Sweeps, and writes this worker's heartbeat row (jobs.WorkerBeat, by its node name)
    before each sweep; the row goes when the worker stops."""
    from django.db import close_old_connections

    from jobs.services import jobs_sweep, worker_beat, worker_gone

    while True:
        close_old_connections()
        try:
            worker_beat(name=node, queues=queues)
            jobs_sweep()
        except Exception:
            # The database or broker is away for a moment: log it, try again next time.
            logger.exception("Sweep failed")
        finally:
            close_old_connections()
        if _stop_sweeping.wait(every_s):
            break
    try:
        worker_gone(name=node)
    except Exception:
        logger.warning("Could not remove worker %s's heartbeat row", node)
    finally:
        close_old_connections()
