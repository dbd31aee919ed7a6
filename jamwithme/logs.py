"""Log records for every process (web, separation_worker, Celery worker), via LOGGING.

`LOG_FORMAT=json` writes one JSON object per line — `time`, `level`, `logger`, `message`,
and `request_id`, `job_id`, `track_id`, `worker_id` when the line is about one — for a log
collector (journald, Loki, CloudWatch...). The default stays the readable plain line.

The stdlib's logging with python-json-logger's formatter, not structlog: every library we
run (Django, Celery, kombu, uvicorn, boto3) logs through the stdlib, and one formatter on
the root handler turns all of it into JSON, with no second logging API in our code.
"""

import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.core.signals import request_finished
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from jobs import logcontext

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# A request id a proxy or load balancer sent is kept when it looks like one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONTEXT = ("request_id", "job_kind", "job_id", "track_id", "worker_id")


class ContextFilter:
    """Puts the request id, and the job's kind and the job, track and worker ids known to
    this thread, on each record (a value passed in `extra=` wins)."""

    def filter(self, record) -> bool:
        known = {
            "request_id": request_id.get(),
            "job_kind": logcontext.job_kind.get(),
            "job_id": logcontext.job_id.get(),
            "track_id": logcontext.track_id.get(),
            "worker_id": logcontext.worker_id.get(),
        }
        for name, value in known.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(_JsonFormatter):
    def __init__(self, *args, **kwargs):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            json_ensure_ascii=False,
            **kwargs,
        )

    def formatTime(self, record, datefmt=None) -> str:
        # ISO 8601 in UTC with milliseconds: sorts, and parses everywhere.
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        for name in CONTEXT:  # leave out what is not known, rather than null
            if log_data.get(name) is None:
                log_data.pop(name, None)


class RequestIdMiddleware:
    """Gives each request an id for its log lines (the proxy's `X-Request-ID` when it sent
    a sane one) and returns it in the response's `X-Request-ID`."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        value = self._start(request)
        response = self.get_response(request)
        response["X-Request-ID"] = value
        return response

    @staticmethod
    def _start(request) -> str:
        sent = request.headers.get("X-Request-ID", "")
        value = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a 4xx/5xx response ("Not Found: ...") after
        # every middleware has returned. It is forgotten when the request is finished.
        request_id.set(value)
        return value


def _forget_request_id(**kwargs) -> None:
    request_id.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="jamwithme.logs.request_id")
