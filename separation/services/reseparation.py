"""Separating tracks again after a model upgrade (or its rollback): `manage.py reseparate`.

A re-separation is the track's own `SeparationJob` queued again, marked `background`: it
runs through the one pipeline, after every upload in the fair queue (`jobs.state.
fair_order`), and counts against nobody's cap of songs in separation. The track keeps its
stems (it plays, shares and exports as before) until the new run is done: the runner then
records the new stems in place of the old in one transaction, under the job's lock, and the
old files are deleted once it commits (`tracks.services.track_record_outputs`). A run that
fails or is cancelled leaves the old stems in place.
"""

from django.db import transaction
from django.db.models import Q, QuerySet

import engine as audio_engine
from jobs import services as jobs
from jobs.state import requeue
from separation.kind import SEPARATION
from separation.models import SeparationJob

Status = SeparationJob.Status


def made_by_another_model() -> Q:
    """The separations whose stems this code's model and engine (`engine.model_identity`)
    did not make: an older one, a newer one (after a rollback), or unknown (before they were
    recorded)."""
    current = audio_engine.model_identity()
    return ~Q(
        model_name=current["model"],
        weights_sha256=current["weights_sha256"],
        engine_version=current["engine"],
    )


def reseparation_candidates(
    *, track_ids: list[str] | None = None, outdated: bool = False
) -> QuerySet[SeparationJob]:
    """The done separations to run again: of the tracks named, or (``outdated``) those
    made by another model, or every one."""
    done = SeparationJob.objects.filter(status=Status.DONE)
    if track_ids:
        done = done.filter(track_id__in=track_ids)
    if outdated:
        done = done.filter(made_by_another_model())
    return done.order_by("id")


def jobs_reseparate(*, job_ids: list[int]) -> list[int]:
    """Queue these done separations again, in the background, each sent to the workers once
    this commits. Returns those queued (one that is no longer done is left alone)."""
    queued = []
    with transaction.atomic():
        for job_id in job_ids:
            if requeue(
                SeparationJob, pk=job_id, statuses=(Status.DONE,), phase="", background=True
            ):
                jobs.job_dispatch_on_commit(SEPARATION, job_id=job_id)
                queued.append(job_id)
    return queued
