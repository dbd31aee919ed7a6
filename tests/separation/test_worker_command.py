import signal
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

import engine
from jobs.services import job_claim
from separation.kind import SEPARATION
from separation.models import SeparationJob
from tests import fakes
from tests.factories import make_track

Status = SeparationJob.Status

# The worker calls close_old_connections(), which closes a connection held inside the
# per-test transaction on PostgreSQL: these tests commit for real instead.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_processes_queued_jobs_one_after_another(alice, tmp_path, fake_engine):
    tracks = [make_track(owner=alice, tmp_path=tmp_path, title=f"Song {n}") for n in range(2)]
    call_command("separation_worker", "--once")
    for track in tracks:
        track.job.refresh_from_db()
        assert track.job.status == Status.DONE
    assert len(fake_engine.calls) == 2


def test_a_failing_job_does_not_block_the_queue(alice, tmp_path, monkeypatch):
    first = make_track(owner=alice, tmp_path=tmp_path, title="Broken")
    second = make_track(owner=alice, tmp_path=tmp_path, title="Fine")

    class FailsOnce(fakes.FakeEngine):
        def separate_file(self, src_path, out_dir, **kwargs):
            if not self.calls:
                self.calls.append(src_path)
                raise engine.AudioError("The file is truncated.")
            return super().separate_file(src_path, out_dir, **kwargs)

    monkeypatch.setattr(engine, "get_engine", lambda **config: FailsOnce(), raising=False)
    call_command("separation_worker", "--once")
    first.job.refresh_from_db()
    second.job.refresh_from_db()
    assert first.job.status == Status.FAILED
    assert "truncated" in first.job.error
    assert second.job.status == Status.DONE


def test_a_job_left_running_by_a_dead_worker_is_requeued_and_done_on_restart(
    alice, tmp_path, fake_engine, settings
):
    track = make_track(owner=alice, tmp_path=tmp_path)
    # A worker on another machine claimed the job and then died mid-job.
    job_claim(SEPARATION, job_id=track.job.id, worker_id="otherhost:4242:dead")
    SeparationJob.objects.filter(id=track.job.id).update(
        progress=40,
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 5),
    )
    call_command("separation_worker", "--once")
    track.job.refresh_from_db()
    assert track.job.status == Status.DONE
    assert track.job.attempts == 2
    assert track.job.claimed_by != "otherhost:4242:dead"


def test_the_worker_refuses_to_start_without_the_model(db, monkeypatch):
    def no_model(**config):
        raise engine.ModelError("weights missing")

    monkeypatch.setattr(engine, "get_engine", no_model, raising=False)
    with pytest.raises(CommandError, match="weights missing"):
        call_command("separation_worker", "--once")


def test_the_worker_stops_cleanly_on_sigterm(db, fake_engine):
    """Run the loop in a thread and tell it to stop the way the signal handler does."""
    from separation.management.commands.separation_worker import Command

    command = Command()
    done = threading.Event()

    def run():
        try:
            command.handle(poll_interval=0.05, once=False)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    while not hasattr(command, "stopping"):
        pass
    command.on_signal(signal.SIGTERM, None)
    assert done.wait(5)
    thread.join()


def test_the_worker_retries_deletions_storage_refused_earlier(fake_engine, private_media):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from tracks.models import FileDeletion

    left = default_storage.save("tracks/gone/abc-vocals.wav", ContentFile(b"x"))
    FileDeletion.objects.create(name=left, attempts=1, last_error="PermissionError")
    call_command("separation_worker", "--once")
    assert not default_storage.exists(left)
    assert not FileDeletion.objects.exists()


def test_the_worker_sweeps_scratch_folders_of_dead_workers_on_this_host_at_start(
    settings, tmp_path, fake_engine
):
    import os
    import socket
    import subprocess
    import sys

    settings.JAM_SCRATCH_DIR = tmp_path / "scratch"
    host = socket.gethostname()
    dead_pid = int(
        subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    dead = settings.JAM_SCRATCH_DIR / f"{host}-{dead_pid}" / "run-abc"
    alive = settings.JAM_SCRATCH_DIR / f"{host}-{os.getppid()}" / "run-def"
    elsewhere = settings.JAM_SCRATCH_DIR / f"otherhost-{dead_pid}" / "run-ghi"
    for folder in (dead, alive, elsewhere):
        folder.mkdir(parents=True)
        (folder / "decoded.wav").write_bytes(b"x" * 1000)

    call_command("separation_worker", "--once")

    assert not dead.parent.exists()
    assert alive.exists() and elsewhere.exists()  # a live process's, another host's


def test_a_job_runs_in_its_workers_scratch_folder_and_leaves_nothing_there(
    alice, tmp_path, settings
):
    from jobs.runner import job_run
    from jobs.scratch import process_scratch

    settings.JAM_SCRATCH_DIR = tmp_path / "scratch"
    track = make_track(owner=alice, tmp_path=tmp_path)
    seen = []
    engine = fakes.FakeEngine(on_progress=lambda f: seen.append(list(process_scratch().iterdir())))
    job = job_claim(SEPARATION, job_id=track.job.id, worker_id="w")
    assert job_run(SEPARATION, job=job, worker_id="w", engine=engine) == Status.DONE
    assert seen[0] and seen[0][0].name.startswith("run-")
    assert list(process_scratch().iterdir()) == []


def test_songs_waiting_go_before_exports_which_run_once_no_song_waits(alice, tmp_path, fake_engine):
    """A stream of exports (anyone may ask for one after another) must not hold back any
    upload: a render is not started while a song waits (and gives way between its pieces
    when one comes: tests/practice/test_render_lane.py)."""
    from practice.models import Render

    practised = make_track(owner=alice, tmp_path=tmp_path, separated=True, seconds=1.0)
    songs = [make_track(owner=alice, tmp_path=tmp_path, title=f"Song {n}") for n in range(2)]
    renders = [Render.objects.create(track=practised, tempo=90 + n) for n in range(3)]
    call_command("separation_worker", "--once")
    made = Render.objects.filter(id__in=[render.id for render in renders])
    separated = SeparationJob.objects.filter(track__in=songs).select_related("track")
    started = sorted(
        [(render.started_at, f"render {render.tempo}") for render in made]
        + [(job.started_at, job.track.title) for job in separated]
    )
    assert [what for _, what in started] == [
        "Song 0", "Song 1", "render 90", "render 91", "render 92"
    ]  # fmt: skip
