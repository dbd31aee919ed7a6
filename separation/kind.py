"""Separation as a kind of job (`jobs.kinds`): what the one runner, dispatcher, worker and
sweep need to know of it. Registered in `SeparationConfig.ready`."""

from jobs.kinds import JobKind
from separation.events import job_publish
from separation.models import SeparationJob
from tracks.services import track_sweep_unreferenced_files

Phase = SeparationJob.Phase

# Where each phase's progress runs, in percent of the job, from what each took for a
# 5-minute song on 2 cores after the engine's second pass (bench/profile_engine.py): the
# engine ~7 s (its own progress counts writing the stems out), the three waveforms' peaks
# ~1.4 s of CPU plus the jam track's tempo estimate, storing under 1 s on a local disk (more
# on a remote one). 100 is only ever written with "done".
PHASE_SPANS = {
    Phase.SEPARATING: (0, 70),
    Phase.WAVEFORMS: (70, 92),
    Phase.STORING: (92, 99),
}


def _given_up(job_id: int) -> None:
    """Failed for good by the sweep: no run will follow to delete what the dead one stored,
    and the old claim can no longer record anything."""
    track_id = SeparationJob.objects.filter(id=job_id).values_list("track_id", flat=True).first()
    if track_id is not None:
        track_sweep_unreferenced_files(track_id=track_id)


SEPARATION = JobKind(
    name="separation",
    model=SeparationJob,
    work="separation.services.running.separation_work",
    publish=lambda job_id: job_publish(job_id=job_id),
    task="separation.tasks.separate_task",
    phases=PHASE_SPANS,
    doing="separating this track",
    settings_prefix="SEPARATION",
    given_up=_given_up,
    priority=20,
    background="background",
)
