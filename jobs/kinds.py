"""The registry of job kinds: what each kind of background job runs, on which queue, with
which phases and recovery. Data, registered by the app that owns the kind (in its
`AppConfig.ready`), read by the one runner, dispatcher, worker and sweep in `jobs/`.

A kind names its work as a dotted path (`work`), imported only by the worker that runs it:
a web process that queues a separation never loads the engine. Adding a kind is one module
with the work function plus a `register(JobKind(...))`: docs/jobs.md shows how.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class JobKind:
    name: str  # "separation", "render": in logs and the registry
    model: type  # a concrete `jobs.models.Job`
    # "package.module.function": work(job, run, **options) -> Made (jobs.runner).
    work: str
    # publish(job_id): send the job's live event; called after every change of its row.
    publish: Callable[[int], None]
    # The Celery task that takes the id (thin: it calls jobs.runner.job_process).
    task: str
    # Each phase's span of the job's progress, in percent, in the order they run; the claim
    # sets the first.
    phases: dict[str, tuple[int, int]]
    # What a run does, for its messages: "separating this track".
    doing: str
    # Its settings: <prefix>_QUEUE, <prefix>_STALE_AFTER_S, <prefix>_MAX_ATTEMPTS.
    settings_prefix: str
    # How often a run writes its heartbeat while it reports no progress.
    heartbeat_every_s: float = 5.0
    # given_up(job_id): a job failed for good by the sweep (no run will follow it).
    given_up: Callable[[int], None] | None = None
    # Lower runs first in the embedded worker (never the same kind twice while another
    # kind waits).
    priority: int = 100
    # In the embedded worker (one job at a time), a run of this kind gives way between
    # pieces of its work when a job of another kind waits (`jobs.runner.Run.yield_if_asked`).
    yields: bool = False
    # The lookup from a job to the user whose turn it is (`jobs.state.fair_order`): claims
    # take turns across users. None: first in, first out.
    owner: str | None = "track__owner"
    # A boolean column of the kind's model: its jobs wait behind every other (re-separations
    # after a model upgrade). None: none do.
    background: str | None = None

    @property
    def first_phase(self) -> str:
        return next(iter(self.phases))

    @property
    def queue(self) -> str:
        return getattr(settings, f"{self.settings_prefix}_QUEUE")

    @property
    def stale_after_s(self) -> float:
        return getattr(settings, f"{self.settings_prefix}_STALE_AFTER_S")

    @property
    def max_attempts(self) -> int:
        return getattr(settings, f"{self.settings_prefix}_MAX_ATTEMPTS")

    @property
    def too_many_attempts(self) -> str:
        return f"The worker stopped while {self.doing} too many times."

    @property
    def generic_failure(self) -> str:
        return f"Something went wrong while {self.doing}. Please try again."

    def over_time_limit(self, minutes: float) -> str:
        """Said when Celery's soft time limit stops a run."""
        return f"{self.doing.capitalize()} took longer than the limit ({minutes:g} minutes)."

    def work_function(self) -> Callable:
        return _imported(self.work)


@cache
def _imported(path: str) -> Callable:
    return import_string(path)


_KINDS: dict[str, JobKind] = {}
_CHORES: list[Callable[[], object]] = []


def register(kind: JobKind) -> JobKind:
    """Add a kind (an app's `ready`). Registering the same name again replaces it."""
    _KINDS[kind.name] = kind
    return kind


def get(kind: JobKind | str) -> JobKind:
    """The registered kind of that name (or the kind itself)."""
    if isinstance(kind, JobKind):
        return kind
    try:
        return _KINDS[kind]
    except KeyError:
        raise LookupError(f"No job kind called {kind!r} is registered") from None


def all_kinds() -> list[JobKind]:
    """Every registered kind, in the embedded worker's order (priority, then name)."""
    return sorted(_KINDS.values(), key=lambda kind: (kind.priority, kind.name))


def register_chore(chore: Callable[[], object]) -> None:
    """A housekeeping step every worker runs with the sweep (an app's `ready`): retrying
    refused file deletions, say. Idempotent, as any number of workers may run it at once."""
    if chore not in _CHORES:
        _CHORES.append(chore)


def chores() -> list[Callable[[], object]]:
    return list(_CHORES)
