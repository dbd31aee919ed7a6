"""Celery tasks for the scale-out mode: thin shells that take an id and call a service."""

from celery import shared_task

from separation.services.running import job_process, platform_engine


@shared_task(name="separation.tasks.separate_task", acks_late=True)
def separate_task(job_id: int) -> str | None:
    return job_process(job_id=job_id, engine=platform_engine())
