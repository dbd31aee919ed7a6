# The Celery app is loaded in every process (web, workers, manage.py), so tasks are sent with
# this project's configuration (broker, queue `separation`), not Celery's default app.
from jamwithme.celery import app as celery_app

__all__ = ("celery_app",)
