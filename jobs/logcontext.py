"""Which job and track the log lines of this thread or task are about, and which worker ran
them.

The runner (`jobs.runner.job_run`) sets them for the whole run of any kind of job, so every
line logged meanwhile — by separation, exports, tracks, storage, the engine — can say which job
it belongs to. `jamwithme.logs` reads them into each
record (JSON logs: `job_kind`, `job_id`, `track_id`, and `worker_id`, the claim's `host:pid:token`).
Context variables: each thread and asyncio task has its own, so two jobs in one process never
mix.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

job_kind: ContextVar[str | None] = ContextVar("job_kind", default=None)  # "separation", ...
job_id: ContextVar[int | None] = ContextVar("job_id", default=None)
track_id: ContextVar[str | None] = ContextVar("track_id", default=None)  # a UUID, as text
worker_id: ContextVar[str | None] = ContextVar("worker_id", default=None)  # host:pid:…
# The Celery node this process belongs to (`celery@host`), for every line of a worker process
# and of its pool's children (set before they fork); None in the web and embedded processes.
node: list[str] = []


def set_node(name: str) -> None:
    node[:] = [name]


@contextmanager
def job_log_context(*, kind: str, job: int, track: object, worker: str) -> Iterator[None]:
    kind_token = job_kind.set(kind)
    job_token = job_id.set(job)
    track_token = track_id.set(None if track is None else str(track))
    worker_token = worker_id.set(worker)
    try:
        yield
    finally:
        worker_id.reset(worker_token)
        track_id.reset(track_token)
        job_id.reset(job_token)
        job_kind.reset(kind_token)
