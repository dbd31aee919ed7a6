"""Celery task for the scale-out mode: a thin shell that takes an id and calls the runner.

Acknowledged late, and handed back to the broker when the worker process dies, so a killed
worker's job is delivered again; the runner takes it over from the dead claim. Sent to
SEPARATION_QUEUE (`jobs.services.job_send`); time limits from settings. The warm engine is
had before the job is claimed: a worker without the model fails the task, not the job,
which stays queued for a worker that has it.
"""

from celery import shared_task

from jobs.runner import job_process
from separation.services.running import platform_engine


@shared_task(name="separation.tasks.separate_task", acks_late=True, reject_on_worker_lost=True)
def separate_task(job_id: int) -> str | None:
    return job_process("separation", job_id=job_id, engine=platform_engine())
