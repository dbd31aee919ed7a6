"""Celery tasks for the scale-out mode: thin shells that take an id and call a service."""

from celery import shared_task

from separation import engine as audio_engine
from separation.services import job_process


@shared_task(name="separation.tasks.separate_task", acks_late=True)
def separate_task(job_id: int) -> str | None:
    return job_process(job_id=job_id, engine=audio_engine.get_engine())
