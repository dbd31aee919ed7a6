# The Celery app (jamwithme/celery.py) is loaded where it is used: by `celery -A jamwithme`
# (which finds jamwithme.celery) and, in the scale-out mode, by the first job a process
# sends (`jobs.services`, through JOBS_CELERY_APP). A process that sends nothing (the
# embedded mode, `manage.py separate`) never builds the app nor reads its configuration.
