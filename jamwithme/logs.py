"""Log records for every process (web, separation_worker, Celery worker), via LOGGING.

`LOG_FORMAT=json` writes one JSON object per line — `time`, `level`, `logger`, `message`,
and `request_id`, `job_kind`, `job_id`, `track_id`, `worker_id` (the claim) when the line is
about one, and `node` (the Celery node) in a Celery worker — for a log collector (journald,
Loki, CloudWatch...). uvicorn's own loggers (`uvicorn.error`, and `uvicorn.access`: one line
per request) go through the same handler (settings.LOGGING), so the web log is JSON too.
The default stays the readable plain line.

The stdlib's logging with python-json-logger's formatter, not structlog: every library we
run (Django, Celery, kombu, uvicorn, boto3) logs through the stdlib, and one formatter on
the root handler turns all of it into JSON, with no second logging API in our code.
"""

import logging
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
CONTEXT = ("request_id", "job_kind", "job_id", "track_id", "worker_id", "node")
# Celery's "Task <name>[<id>] received" line: its `data` holds the task's arguments as text;
# every job task takes the job's id alone.
JOB_TASK_ARGS = re.compile(r"\((\d+),?\)")


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
        if logcontext.node:
            known["node"] = logcontext.node[0]
        data = getattr(record, "data", None)
        if isinstance(data, dict) and known["job_id"] is None and "name" in data:
            known.update(_job_of_task(data))
        for name, value in known.items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


# The secret part of the one-time links' paths: a sign-up confirmation's token, and a
# password reset's token (Django moves it into the session at once, but the first request
# has it in its path).
ONE_TIME_LINK = re.compile(
    r"(/accounts/signup/confirm/|/accounts/reset/[^/\s\"']+/)(?!set-password/)[^/\s\"'?]+"
)


def redacted(text: str) -> str:
    return ONE_TIME_LINK.sub(r"\1[redacted]", text)


class OneTimeLinkFilter:
    """Takes one-time links out of every line: the server's access line and Django's
    "Not Found: <path>" name the path a link was opened at."""

    def filter(self, record) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it as it formats
            return True
        if ONE_TIME_LINK.search(message):
            record.msg, record.args = redacted(message), ()
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            # Django passes the request object; the JSON formatter would write it out whole.
            record.request = redacted(f"{request.method} {request.get_full_path()}")
        return True


CHANNEL_CAPACITY = "%s of %s channels over capacity in group %s"


class ChannelCapacityFilter:
    """channels-redis says "2 of 2 channels over capacity in group user.7" when an event to a
    group could not be queued for some of its members. Said here in words, with what usually
    causes it, as a warning (on the `channels_redis.core` logger)."""

    def filter(self, record) -> bool:
        if record.msg == CHANNEL_CAPACITY and len(record.args or ()) == 3:
            over, members, group = record.args
            record.msg = (
                "%s of the %s sockets in group %s did not get this event: each one's queue "
                "already holds as many messages as the channel layer keeps (its capacity). "
                "Usually these are sockets of a web process that died without leaving the "
                "group (they stay until CHANNEL_LAYER_GROUP_EXPIRY_S after they joined), "
                "or a socket whose process stopped reading; a live socket reconnects and "
                "catches up"
            )
            record.args = (over, members, group)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.channels_over_capacity = over
            record.channel_group = group
        return True


def _job_of_task(data: dict) -> dict:
    """The job kind and id of a Celery task message's line (received, ...), if it is a job."""
    from jobs import kinds

    kind = next((k for k in kinds.all_kinds() if k.task == data.get("name")), None)
    found = JOB_TASK_ARGS.fullmatch(str(data.get("args", "")).strip())
    if kind is None or found is None:
        return {}
    return {"job_kind": kind.name, "job_id": int(found.group(1))}


class RequestIdASGI:
    """ASGI middleware around the whole HTTP application: the request id is known before
    Django runs and after it has answered, so the server's own lines about the request
    (uvicorn's access line) carry it too. `RequestIdMiddleware` takes it from the scope."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = next(
            (value.decode("latin-1") for key, value in scope["headers"] if key == b"x-request-id"),
            "",
        )
        value = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(value)
        try:
            return await self.app({**scope, "request_id": value}, receive, send)
        finally:
            request_id.reset(token)


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
        scope = getattr(request, "scope", None) or {}
        if scope.get("request_id"):  # RequestIdASGI chose it
            request_id.set(scope["request_id"])
            return scope["request_id"]
        sent = request.headers.get("X-Request-ID", "")
        value = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a 4xx/5xx response ("Not Found: ...") after
        # every middleware has returned. It is forgotten when the request is finished.
        request_id.set(value)
        return value


def _forget_request_id(**kwargs) -> None:
    request_id.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="jamwithme.logs.request_id")
