"""Importing a song from a link as a kind of job (`jobs.kinds`). Registered in
`ImportsConfig.ready`; its work is `imports.work.import_work`, imported by workers only."""

from imports.events import import_publish
from imports.models import ImportJob
from jobs.kinds import JobKind
from tracks.services import track_sweep_unreferenced_files

Phase = ImportJob.Phase

# Fetching is nearly all of it; storing the song in its track's folder is a copy.
PHASE_SPANS = {Phase.FETCHING: (0, 90), Phase.STORING: (90, 99)}


def _given_up(job_id: int) -> None:
    """Failed for good by the sweep: delete what a dead run stored and never recorded."""
    track_id = ImportJob.objects.filter(id=job_id).values_list("track_id", flat=True).first()
    if track_id is not None:
        track_sweep_unreferenced_files(track_id=track_id)


IMPORT = JobKind(
    name="import",
    model=ImportJob,
    work="imports.work.import_work",
    publish=lambda job_id: import_publish(job_id=job_id),
    task="imports.tasks.import_task",
    phases=PHASE_SPANS,
    doing="fetching this song",
    settings_prefix="IMPORT",
    heartbeat_every_s=5.0,
    given_up=_given_up,
    priority=10,  # quick next to a separation, and it feeds one
)
