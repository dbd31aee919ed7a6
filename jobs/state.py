"""A job's state changes, each a conditional UPDATE on the row, for any `jobs.models.Job`.

Two workers can never both own a job, and a worker that lost its claim (the job was
recovered, cancelled or deleted) can never overwrite a newer state: each write a worker
makes goes through `model.objects.claimed(...)`. Each function takes the model and, as
``**fields``, the job kind's own columns to set with the change (a separation's `phase`).
They tell nobody: the caller publishes its events once the row changed.
"""

import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import zip_longest
from typing import TypeVar

from django.db.models import Count, F, Max, Q
from django.utils import timezone

from jobs.models import DONE, FAILED, QUEUED, RUNNING, Job

T = TypeVar("T")


def worker_identity() -> str:
    """`host:pid:token`, unique per worker run; lets recovery spot a dead worker on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claimer_is_dead(claimed_by: str) -> bool:
    """True when the claiming worker ran on this host and its process is gone."""
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim_is_dead(claimed_by: str, heartbeat_at: datetime | None, *, stale_before) -> bool:
    """The claim's worker died: no heartbeat since ``stale_before``, or its process is gone
    from this host."""
    stale = heartbeat_at is None or heartbeat_at < stale_before
    return stale or claimer_is_dead(claimed_by)


def _run_started(worker_id: str, fields: dict) -> dict:
    """The fields a run sets on its job when it starts: whose it is, one more attempt."""
    now = timezone.now()
    return {
        "claimed_by": worker_id,
        "attempts": F("attempts") + 1,
        "progress": 0,
        "error": "",
        "started_at": now,
        "heartbeat_at": now,
        "updated_at": now,
        **fields,
    }


def claim(model: type[Job], *, pk: int, worker_id: str, **fields) -> bool:
    """Take a queued job. Only one caller can win: the update is conditional on `queued`."""
    queued = model.objects.filter(pk=pk, status=QUEUED)
    return queued.update(status=RUNNING, finished_at=None, **_run_started(worker_id, fields)) == 1


def claim_next(
    model: type[Job],
    claim_one: Callable[[int], T | None],
    *,
    owner: str | None = None,
    background: str | None = None,
) -> T | None:
    """``claim_one(pk)`` the next job in `fair_order` (the app's claim, which tells people and
    returns the job), skipping any another worker just took. ``owner`` is the lookup from a
    job to the user it is fair to ("track__owner"); None: the job that waited longest."""
    for pk in fair_order(model, owner=owner, background=background)[:20]:
        claimed = claim_one(pk)
        if claimed is not None:
            return claimed
    return None


def fair_order(model: type[Job], *, owner: str | None, background: str | None = None) -> list[int]:
    """The queued jobs' ids in the order claims take them: round-robin across owners.

    Each owner's jobs wait in their own line (the longest-waiting first). The owners take
    turns: first those with the fewest jobs of this kind running, then the one whose last
    job started longest ago (never: first), then the one whose first job has waited
    longest. So one user's batch of 24 delays another user's single song by at most one
    job per worker, and a user alone gets every worker. Without ``owner``: first in, first
    out. Jobs whose ``background`` column is true come after all others, in turns too.
    Any worker may compute it at once: the claim itself is the conditional update."""
    waiting = model.objects.filter(status=QUEUED).order_by("updated_at", "id")
    if background is not None:
        tiers = [waiting.filter(**{background: False}), waiting.filter(**{background: True})]
    else:
        tiers = [waiting]
    if owner is None:
        return [pk for tier in tiers for pk in tier.values_list("id", flat=True)]
    return [pk for tier in tiers for pk in _round_robin(model, tier, owner)]


def _round_robin(model: type[Job], waiting, owner: str) -> list[int]:
    lines: dict[object, list[int]] = {}
    for pk, who in waiting.values_list("id", owner):
        lines.setdefault(who, []).append(pk)
    if len(lines) < 2:
        return [pk for line in lines.values() for pk in line]
    history = (
        model.objects.filter(**{f"{owner}__in": list(lines)})
        .values(owner)
        .order_by()
        .annotate(running=Count("id", filter=Q(status=RUNNING)), last_start=Max("started_at"))
    )
    seen = {row[owner]: (row["running"], row["last_start"]) for row in history}
    never = datetime.min.replace(tzinfo=UTC)

    def turn(who) -> tuple:
        running, last_start = seen.get(who, (0, None))
        return (running, last_start or never)

    owners = sorted(lines, key=turn)  # stable: ties keep the longest-waiting first
    rounds = zip_longest(*(lines[who] for who in owners))
    return [pk for one_round in rounds for pk in one_round if pk is not None]


def dead_claims(model: type[Job], *, stale_before, fields: tuple[str, ...] = ()) -> list[dict]:
    """The running jobs whose worker died (`claim_is_dead`), as rows of their id, claim,
    heartbeat and attempts (and ``fields``): what a recovery sweep takes back."""
    running = model.objects.filter(status=RUNNING)
    rows = running.values("id", "claimed_by", "heartbeat_at", "attempts", *fields)
    return [
        row
        for row in rows
        if claim_is_dead(row["claimed_by"], row["heartbeat_at"], stale_before=stale_before)
    ]


def take_over(
    model: type[Job],
    *,
    pk: int,
    worker_id: str,
    stale_before,
    max_attempts: int,
    reason: str,
    **fields,
) -> str | None:
    """Take a job left `running` by a dead worker (`claim_is_dead`): a new attempt, under
    ``worker_id``. Once it has been attempted ``max_attempts`` times it is failed with
    ``reason`` instead. Returns the new status (RUNNING: ours now), or None when the job is
    not running, its worker is alive, or another caller won: the update is conditional on
    the dead worker's claim."""
    running = model.objects.filter(pk=pk, status=RUNNING)
    row = running.values("claimed_by", "heartbeat_at", "attempts").first()
    if row is None:
        return None
    claimed_by = row["claimed_by"]
    if not claim_is_dead(claimed_by, row["heartbeat_at"], stale_before=stale_before):
        return None  # alive: the job is in good hands
    if row["attempts"] >= max_attempts:
        return FAILED if fail(model, pk=pk, worker_id=claimed_by, reason=reason) else None
    taken = model.objects.claimed(pk=pk, worker_id=claimed_by)
    return RUNNING if taken.update(**_run_started(worker_id, fields)) else None


def take_back(
    model: type[Job],
    *,
    pk: int,
    claimed_by: str,
    attempts: int,
    max_attempts: int,
    reason: str,
    **fields,
) -> str | None:
    """Take a job back from a dead worker's claim: queued again (``fields`` are set with
    it), or failed with ``reason`` once it has been attempted ``max_attempts`` times (so a
    job that kills workers cannot crash-loop them). Returns the new status, or None when
    the claim had already changed."""
    if attempts >= max_attempts:
        return FAILED if fail(model, pk=pk, worker_id=claimed_by, reason=reason) else None
    return QUEUED if _back_in_queue(model, pk=pk, worker_id=claimed_by, **fields) else None


def heartbeat(model: type[Job], *, pk: int, worker_id: str, progress: int, **fields) -> bool:
    """Record progress and that the worker is alive. False when the claim is gone: the job
    was cancelled, recovered by another worker or deleted (the caller stops)."""
    now = timezone.now()
    mine = model.objects.claimed(pk=pk, worker_id=worker_id)
    return mine.update(progress=progress, heartbeat_at=now, updated_at=now, **fields) == 1


def finish(model: type[Job], *, pk: int, worker_id: str, **fields) -> bool:
    """Mark a claimed job done (the caller records its files in the same transaction)."""
    now = timezone.now()
    mine = model.objects.claimed(pk=pk, worker_id=worker_id)
    return bool(mine.update(status=DONE, progress=100, finished_at=now, updated_at=now, **fields))


def fail(model: type[Job], *, pk: int, worker_id: str, reason: str) -> bool:
    now = timezone.now()
    mine = model.objects.claimed(pk=pk, worker_id=worker_id)
    return bool(mine.update(status=FAILED, error=reason[:500], finished_at=now, updated_at=now))


def release(model: type[Job], *, pk: int, worker_id: str, **fields) -> bool:
    """Give a running job back to the queue (the worker is stopping): the attempt does not
    count."""
    attempt_undone = F("attempts") - 1
    return _back_in_queue(model, pk=pk, worker_id=worker_id, attempts=attempt_undone, **fields)


def _back_in_queue(model: type[Job], *, pk: int, worker_id: str, **fields) -> bool:
    """A running job under ``worker_id``'s claim queued again, unclaimed."""
    mine = model.objects.claimed(pk=pk, worker_id=worker_id)
    queued = mine.update(
        status=QUEUED,
        claimed_by="",
        heartbeat_at=None,
        progress=0,
        updated_at=timezone.now(),
        **fields,
    )
    return bool(queued)


def requeue(model: type[Job], *, pk: int, statuses: tuple[str, ...], **fields) -> bool:
    """Queue a job in one of ``statuses`` (failed, say) again, as new. False when it was in
    none of them."""
    again = model.objects.filter(pk=pk, status__in=statuses)
    requeued = again.update(
        status=QUEUED,
        progress=0,
        error="",
        attempts=0,
        claimed_by="",
        heartbeat_at=None,
        started_at=None,
        finished_at=None,
        dispatched_at=None,
        updated_at=timezone.now(),
        **fields,
    )
    return bool(requeued)


def mark_dispatched(model: type[Job], *, pk: int) -> bool:
    """Note that a queued job's message was just handed to the broker (for the sweep)."""
    queued = model.objects.filter(pk=pk, status=QUEUED)
    return bool(queued.update(dispatched_at=timezone.now()))


# A job queued this recently and not yet sent is left to the send that follows its own
# commit (the upload's, the retry's), which notes `dispatched_at` a moment later: the sweep
# sending it too would only make a duplicate message.
UNSENT_GRACE_S = 10.0


def waiting_to_send(model: type[Job], *, resend_after_s: float) -> list[int]:
    """The queued jobs the sweep sends (again), oldest first: those never sent, once queued
    UNSENT_GRACE_S ago (the broker was down at the upload), and those last sent more than
    ``resend_after_s`` ago (their message may be lost)."""
    now = timezone.now()
    never_sent = Q(
        dispatched_at__isnull=True, updated_at__lt=now - timedelta(seconds=UNSENT_GRACE_S)
    )
    sent_long_ago = Q(dispatched_at__lt=now - timedelta(seconds=resend_after_s))
    waiting = model.objects.filter(never_sent | sent_long_ago, status=QUEUED)
    return list(waiting.order_by("created_at", "id").values_list("id", flat=True))
