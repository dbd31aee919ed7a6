"""Celery app for the scale-out mode (CELERY_BROKER_URL set). Unused in the embedded mode."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")

app = Celery("jamwithme")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
