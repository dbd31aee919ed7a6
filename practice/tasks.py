"""Celery task for the scale-out mode: a thin shell that takes an id and calls the runner.
Sent to RENDER_QUEUE (`jobs.services.job_send`); acknowledged late like separations."""

from celery import shared_task

from jobs.runner import job_process


@shared_task(name="practice.tasks.render_task", acks_late=True, reject_on_worker_lost=True)
def render_task(render_id: int) -> str | None:
    return job_process("render", job_id=render_id)
