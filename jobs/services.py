"""A job's life for every kind: each state change a conditional UPDATE (`jobs.state`) and
then the kind's event; getting jobs to workers (on commit, through Celery or the embedded
worker's table); and the one sweep that recovers dead workers' jobs and sends lost messages
again, for every registered kind (`jobs.kinds`).

Workers hear of a job only after its row is committed; the row is the truth, and a duplicate
message finds the job claimed and does nothing.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as BrokerUnreachable

from jobs import kinds, state
from jobs.kinds import JobKind
from jobs.models import FAILED, QUEUED, RUNNING, Job, WorkerBeat
from jobs.scratch import scratch_sweep

logger = logging.getLogger(__name__)


def _stale_before(kind: JobKind):
    return timezone.now() - timedelta(seconds=kind.stale_after_s)


# --- State changes that tell people ----------------------------------------------------------


def job_claim(kind: JobKind | str, *, job_id: int, worker_id: str) -> Job | None:
    """Take a queued job (it starts in the kind's first phase). Only one caller can win: the
    update is conditional on `queued`. Returns the job, or None."""
    kind = kinds.get(kind)
    if not state.claim(kind.model, pk=job_id, worker_id=worker_id, phase=kind.first_phase):
        return None
    return _started(kind, job_id)


def _started(kind: JobKind, job_id: int) -> Job:
    kind.publish(job_id)
    return kind.model.objects.get(id=job_id)


def job_claim_next(kind: JobKind | str, *, worker_id: str) -> Job | None:
    """Claim the next job of this kind in the fair order (round-robin across users,
    `jobs.state.fair_order`), skipping any another worker just took."""
    kind = kinds.get(kind)
    return state.claim_next(
        kind.model,
        lambda job_id: job_claim(kind, job_id=job_id, worker_id=worker_id),
        owner=kind.owner,
        background=kind.background,
    )


def job_take_over(kind: JobKind | str, *, job_id: int, worker_id: str) -> Job | None:
    """Take a job left `running` by a dead worker (its process is gone from this host, or its
    heartbeat is older than the kind's stale limit): the broker delivered its message again.
    Once it has been attempted the kind's most times it is failed instead."""
    kind = kinds.get(kind)
    status = state.take_over(
        kind.model,
        pk=job_id,
        worker_id=worker_id,
        stale_before=_stale_before(kind),
        max_attempts=kind.max_attempts,
        reason=kind.too_many_attempts,
        phase=kind.first_phase,
    )
    if status == RUNNING:
        return _started(kind, job_id)
    if status == FAILED:
        kind.publish(job_id)
    return None


def job_fail(kind: JobKind | str, *, job_id: int, worker_id: str, reason: str) -> bool:
    kind = kinds.get(kind)
    failed = state.fail(kind.model, pk=job_id, worker_id=worker_id, reason=reason)
    if failed:
        kind.publish(job_id)
    return failed


def job_release(kind: JobKind | str, *, job_id: int, worker_id: str) -> bool:
    """Give a running job back to the queue (the worker is stopping): the attempt does not
    count."""
    kind = kinds.get(kind)
    released = state.release(kind.model, pk=job_id, worker_id=worker_id, phase="")
    if released:
        kind.publish(job_id)
    return released


def job_requeue(kind: JobKind | str, *, job_id: int, statuses: tuple[str, ...]) -> bool:
    """Queue a job in one of ``statuses`` (failed, cancelled) again, as new, and send it to
    the workers once the transaction commits. False when it was in none of them."""
    kind = kinds.get(kind)
    if not state.requeue(kind.model, pk=job_id, statuses=statuses, phase=""):
        return False
    job_dispatch_on_commit(kind, job_id=job_id)
    return True


def job_waiting(kind: JobKind | str) -> bool:
    """Whether a job of this kind is queued (a yielding run of another kind asks)."""
    return kinds.get(kind).model.objects.filter(status=QUEUED).exists()


# --- Getting jobs to workers ---------------------------------------------------------------


def job_dispatch_on_commit(kind: JobKind | str, *, job_id: int) -> None:
    """Send a job just queued in this transaction to the workers once it commits. Robust:
    nothing that goes wrong after the commit may undo the request or answer a 500."""
    kind = kinds.get(kind)
    transaction.on_commit(partial(job_dispatch, kind, job_id=job_id), robust=True)


def job_dispatch(kind: JobKind | str, *, job_id: int) -> None:
    """Hand a committed queued job to the workers. Embedded workers poll the table; in the
    scale-out mode the kind's thin Celery task takes the id. A broker that is down is logged
    and the row stays queued, never sent: the sweep sends it once the broker is back."""
    kind = kinds.get(kind)
    if settings.SEPARATION_DISPATCH == "celery":
        job_send(kind, job_id=job_id)
    kind.publish(job_id)


def celery_app():
    """The project's Celery app (JOBS_CELERY_APP), loaded on the first send: a process in
    the embedded mode never loads Celery."""
    return import_string(settings.JOBS_CELERY_APP)


def job_send(kind: JobKind | str, *, job_id: int) -> bool:
    """Send the job's message to the kind's queue (by task name: the web process imports
    no task module). False when the broker is unreachable."""
    kind = kinds.get(kind)
    # The queue named here, not only in CELERY_TASK_ROUTES: the setting decides (GPU workers
    # take `separation-gpu`), even where Celery's router was built before it.
    try:
        celery_app().send_task(kind.task, args=(job_id,), queue=kind.queue)
    except BrokerUnreachable:
        logger.warning(
            "Could not send %s %s to the broker; the sweep will", kind.name, job_id, exc_info=True
        )
        return False
    state.mark_dispatched(kind.model, pk=job_id)
    return True


# --- The sweep: what any live worker does for the dead ---------------------------------------


def job_recover_orphans(kind: JobKind | str) -> list[int]:
    """Take back the kind's jobs left `running` by a worker that died: its process is gone
    (same host) or its heartbeat is older than the kind's stale limit. They are queued (and
    sent to the workers) again, or failed after the kind's most attempts."""
    kind = kinds.get(kind)
    recovered = []
    for row in state.dead_claims(kind.model, stale_before=_stale_before(kind)):
        status = state.take_back(
            kind.model,
            pk=row["id"],
            claimed_by=row["claimed_by"],
            attempts=row["attempts"],
            max_attempts=kind.max_attempts,
            reason=kind.too_many_attempts,
            phase="",
        )
        if status is None:
            continue  # it finished or moved on meanwhile: nothing of it is ours to touch
        logger.warning(
            "Recovered %s %s left running by %s",
            kind.name,
            row["id"],
            row["claimed_by"],
            extra={"job_kind": kind.name, "job_id": row["id"]},
        )
        recovered.append(row["id"])
        kind.publish(row["id"])
        if status == FAILED and kind.given_up is not None:
            kind.given_up(row["id"])  # no run will follow to clean up after the dead one
        elif status == QUEUED and settings.SEPARATION_DISPATCH == "celery":
            transaction.on_commit(partial(_send_if_queued, kind, job_id=row["id"]))
    return recovered


def _send_if_queued(kind: JobKind, *, job_id: int) -> None:
    if kind.model.objects.filter(id=job_id, status=QUEUED).exists():
        job_send(kind, job_id=job_id)


def job_redispatch_waiting(kind: JobKind | str) -> list[int]:
    """The outbox sweep of the scale-out mode: send again each queued job never sent (the
    broker was down; not one queued in the last seconds, whose own send is under way) or last
    sent more than SEPARATION_REDISPATCH_AFTER_S ago (its message may be lost)."""
    kind = kinds.get(kind)
    sent = []
    waiting = state.waiting_to_send(
        kind.model, resend_after_s=settings.SEPARATION_REDISPATCH_AFTER_S
    )
    for job_id in waiting:
        if not job_send(kind, job_id=job_id):
            break  # the broker is still down: the next sweep tries again
        sent.append(job_id)
    if sent:
        logger.info("Sent %d waiting %s job(s) to the broker again: %s", len(sent), kind.name, sent)
    return sent


def jobs_sweep() -> None:
    """The one sweep, for every kind: take back dead workers' jobs (and send them again),
    send queued jobs whose message may be lost (scale-out mode), then the apps' chores
    (`kinds.register_chore`) and the scratch folders of dead processes on this host. Each
    step is a conditional update or idempotent: any number of workers may sweep at once."""
    for kind in kinds.all_kinds():
        job_recover_orphans(kind)
        if settings.SEPARATION_DISPATCH == "celery":
            job_redispatch_waiting(kind)
    for chore in kinds.chores():
        chore()
    scratch_sweep()
    workers_forget_dead()


# --- Which workers are alive (`/metrics`: live workers per queue) -------------------------
def worker_beat(*, name: str, queues: list[str]) -> None:
    """This worker is alive and takes jobs from these queues: its row, written now."""
    now = timezone.now()
    WorkerBeat.objects.update_or_create(
        name=name,
        defaults={"queues": ",".join(sorted(set(queues))), "beat_at": now},
        create_defaults={
            "queues": ",".join(sorted(set(queues))),
            "beat_at": now,
            "started_at": now,
        },
    )


def worker_gone(*, name: str) -> None:
    """This worker stops: it no longer counts."""
    WorkerBeat.objects.filter(name=name).delete()


def workers_live() -> list[WorkerBeat]:
    """The workers whose last beat is recent (JAM_WORKER_LIVE_WITHIN_S)."""
    since = timezone.now() - timedelta(seconds=settings.JAM_WORKER_LIVE_WITHIN_S)
    return list(WorkerBeat.objects.filter(beat_at__gte=since))


def workers_forget_dead() -> int:
    """Rows of workers that died without saying so, a day after their last beat (kept that
    long so an operator can see which one went)."""
    deleted, _ = WorkerBeat.objects.filter(beat_at__lt=timezone.now() - timedelta(days=1)).delete()
    return deleted
