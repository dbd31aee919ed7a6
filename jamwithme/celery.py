"""Celery app for the scale-out mode (CELERY_BROKER_URL set). Unused in the embedded mode."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")

app = Celery("jamwithme")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _worker_scratch(**kwargs):
    """Each pool process works in its own scratch folder; dead ones' are swept first."""
    from separation.services.scratch import scratch_sweep, use_process_scratch

    scratch_sweep()
    use_process_scratch()
