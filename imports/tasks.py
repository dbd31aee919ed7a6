"""Celery task for the scale-out mode: takes an id and calls the one runner (IMPORT_QUEUE)."""

from celery import shared_task

from jobs.runner import job_process


@shared_task(name="imports.tasks.import_task", acks_late=True, reject_on_worker_lost=True)
def import_task(job_id: int) -> str | None:
    return job_process("import", job_id=job_id)
