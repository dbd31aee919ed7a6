"""Celery tasks for the scale-out mode: thin shells that take an id and call a service.

Acknowledged late, and handed back to the broker when the worker process dies, so a killed
worker's job is delivered again; `job_process` takes it over from the dead claim. Routed to
the `separation` queue (CELERY_TASK_ROUTES); time limits from settings.
"""

from celery import shared_task

from separation.services.running import job_process, platform_engine


@shared_task(name="separation.tasks.separate_task", acks_late=True, reject_on_worker_lost=True)
def separate_task(job_id: int) -> str | None:
    return job_process(job_id=job_id, engine=platform_engine())
