"""Exports (renders) as a kind of job (`jobs.kinds`): what the one runner, dispatcher, worker
and sweep need to know of it. Registered in `PracticeConfig.ready`."""

from jobs.kinds import JobKind
from practice.events import render_publish
from practice.models import Render

Phase = Render.Phase

# Copying the stems in is quick; the mix, stretch and encode take most of a render
# (bench/render.py); storing is one file.
PHASE_SPANS = {
    Phase.COPYING: (0, 10),
    Phase.RENDERING: (10, 90),
    Phase.STORING: (90, 99),
}

# The embedded worker takes a render first while no song waits; a render gives way between
# its pieces as soon as one does (`yields`: back to the queue, started again after the song),
# so a song waits for one piece of a render at most. In the scale-out mode renders have their
# own Celery queue (RENDER_QUEUE) and workers: nothing of a separation waits behind them.
# A render's heartbeat is due sooner.
RENDER = JobKind(
    name="render",
    model=Render,
    work="practice.rendering.render_work",
    publish=lambda render_id: render_publish(render_id=render_id),
    task="practice.tasks.render_task",
    phases=PHASE_SPANS,
    doing="rendering this export",
    settings_prefix="RENDER",
    heartbeat_every_s=2.0,
    priority=10,
    yields=True,
)
