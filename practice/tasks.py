"""Celery task for the scale-out mode: a thin shell that takes an id and calls a service.
Routed to the `renders` queue (CELERY_TASK_ROUTES); acknowledged late like separations."""

from celery import shared_task

from practice.services import render_process


@shared_task(name="practice.tasks.render_task", acks_late=True, reject_on_worker_lost=True)
def render_task(render_id: int) -> str | None:
    return render_process(render_id=render_id)
