import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from unittest import mock

import pytest
import soundfile as sf
from django.core.files.storage import default_storage
from django.utils import timezone

import engine
from catalog.stems import STEM_NAMES
from jobs.runner import job_process, job_run
from jobs.services import job_claim, job_claim_next, job_dispatch, job_recover_orphans
from separation.kind import PHASE_SPANS, SEPARATION
from separation.models import SeparationJob
from separation.services.dispatch import job_cancel, job_enqueue, job_retry
from separation.waveforms import WIDTH
from tests import fakes
from tests.factories import make_track
from tracks.models import Asset

Status = SeparationJob.Status
GENERIC_FAILURE = SEPARATION.generic_failure
TOO_MANY_ATTEMPTS = SEPARATION.too_many_attempts


@pytest.fixture
def track(alice, tmp_path):
    return make_track(owner=alice, tmp_path=tmp_path, title="Song")


@pytest.fixture
def job(track):
    return track.job


def test_a_new_track_has_a_queued_job(job):
    assert (job.status, job.progress, job.attempts) == (Status.QUEUED, 0, 0)


def test_enqueue_dispatches_only_after_commit(
    track, django_capture_on_commit_callbacks, monkeypatch
):
    dispatch = mock.Mock()
    monkeypatch.setattr("jobs.services.job_dispatch", dispatch)
    SeparationJob.objects.filter(track=track).delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_enqueue(track=track)
    dispatch.assert_not_called()
    assert len(callbacks) == 1
    callbacks[0]()
    dispatch.assert_called_once_with(SEPARATION, job_id=job.id)


def test_in_celery_mode_dispatch_sends_the_job_id_to_the_task_on_the_separation_queue(
    job, settings, sent_messages
):
    settings.SEPARATION_QUEUE = "separation-gpu"
    job_dispatch(SEPARATION, job_id=job.id)
    assert sent_messages == [("separation.tasks.separate_task", (job.id,), "separation-gpu")]
    job.refresh_from_db()
    assert job.dispatched_at is not None


def test_claiming_marks_the_job_running_for_one_worker_only(job):
    first = job_claim(SEPARATION, job_id=job.id, worker_id="w1")
    second = job_claim(SEPARATION, job_id=job.id, worker_id="w2")
    assert first is not None and second is None
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts) == (Status.RUNNING, "w1", 1)
    assert job.started_at is not None and job.heartbeat_at is not None


def test_claim_next_takes_the_oldest_queued_job(alice, tmp_path):
    older = make_track(owner=alice, tmp_path=tmp_path, title="Older").job
    make_track(owner=alice, tmp_path=tmp_path, title="Newer")
    assert job_claim_next(SEPARATION, worker_id="w").id == older.id


def test_claim_next_returns_none_when_the_queue_is_empty(db):
    assert job_claim_next(SEPARATION, worker_id="w") is None


def test_running_a_job_stores_stems_and_waveforms_and_marks_it_done(job, private_media):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine()) == Status.DONE
    job.refresh_from_db()
    track = job.track
    track.refresh_from_db()
    assert (job.status, job.progress) == (Status.DONE, 100)
    assert job.finished_at is not None
    for stem in STEM_NAMES:
        stored = private_media / track.asset(Asset.Kind.STEM, stem).name
        assert sf.info(str(stored)).samplerate == 44100
    for part in ("", *STEM_NAMES):
        picture = private_media / track.asset(Asset.Kind.WAVEFORM, part).name
        assert picture.read_bytes().startswith(b"\x89PNG")
    assert {asset.job_id for asset in track.assets.exclude(kind=Asset.Kind.ORIGINAL)} == {job.id}


def test_a_job_asked_for_cleaner_is_separated_at_that_quality_and_a_retry_keeps_it(
    job, private_media
):
    job.quality = SeparationJob.Quality.CLEANER
    job.save(update_fields=["quality"])
    failing = fakes.FakeEngine(fail_with=engine.AudioError("the file is broken."))
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=failing) == Status.FAILED
    job.refresh_from_db()
    assert job_retry(job=job) is True
    working = fakes.FakeEngine()
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=working) == Status.DONE
    assert failing.qualities == working.qualities == ["cleaner"]


def test_a_run_stores_each_parts_peaks_as_json_for_the_player(job, private_media):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine())
    track = job.track
    track.refresh_from_db()
    for part in ("", *STEM_NAMES):
        asset = track.asset(Asset.Kind.PEAKS, part)
        assert asset.name.endswith(f"-peaks-{part or 'original'}.json")
        data = json.loads((private_media / asset.name).read_text())
        values = data["peaks"][0]
        assert len(values) == 2 * WIDTH  # min, max per column of the PNG
        # The fake's tone is 0.3 loud in the original and halved in each stem.
        assert max(values) == pytest.approx(0.3 if not part else 0.15, abs=0.01)
        assert min(values) == pytest.approx(-0.3 if not part else -0.15, abs=0.01)
        assert data["duration_s"] == pytest.approx(track.duration_s, abs=0.01)


def test_progress_is_written_to_the_row_while_running(job):
    seen = []

    def look(fraction):
        seen.append(SeparationJob.objects.get(id=job.id).progress)

    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(on_progress=look))
    # The first report is written at once; later ones are throttled. The engine's progress
    # is the first span of the job's.
    assert seen[1] == int(0.25 * PHASE_SPANS[SeparationJob.Phase.SEPARATING][1])


def test_every_phase_is_reported_in_order_and_named_in_the_status(job, monkeypatch):
    events = []
    monkeypatch.setattr("separation.events.publish", events.append)
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    events.clear()

    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine()) == Status.DONE

    phases = [event["phase"] or event["status"] for event in events]
    order = [phase for i, phase in enumerate(phases) if i == 0 or phases[i - 1] != phase]
    assert order == ["separating", "waveforms", "storing", "done"]
    labels = [event["status_label"] for event in events]
    assert any(label.startswith("Drawing waveforms ") for label in labels)
    assert any(label.startswith("Storing the stems ") for label in labels)
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress)
    running = [event["progress"] for event in events if event["status"] == Status.RUNNING]
    assert running[-1] >= PHASE_SPANS[SeparationJob.Phase.STORING][0]
    assert progress[-1] == 100


def test_a_running_job_is_cancelled_and_its_worker_stops_at_the_next_report_leaving_nothing(
    job, private_media, settings
):
    from jobs.scratch import process_scratch

    reports_after_cancel = []

    def cancel_halfway(fraction):  # called just before the engine reports ``fraction``
        if fraction == 0.25:
            assert job_cancel(job=SeparationJob.objects.get(id=job.id)) is True
        elif fraction > 0.25:
            reports_after_cancel.append(fraction)

    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    result = job_run(
        SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(on_progress=cancel_halfway)
    )

    assert result == Status.CANCELLED
    assert reports_after_cancel == []  # its report at 0.25 found the job cancelled
    job.refresh_from_db()
    assert (job.status, job.status_label) == (Status.CANCELLED, "Cancelled")
    assert not job.track.assets.exclude(kind=Asset.Kind.ORIGINAL).exists()
    stored = [p.name for p in private_media.rglob("*") if p.is_file()]
    assert stored == [job.track.asset(Asset.Kind.ORIGINAL).name.rsplit("/", 1)[-1]]
    assert list(process_scratch().rglob("*")) == []


def test_a_job_cancelled_while_its_stems_are_stored_deletes_what_was_stored(
    job, private_media, settings, monkeypatch
):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "BACKEND": "tests.fakes.SlowStorage"},
    }
    saved = []

    def cancel_after_the_first_file(name):
        saved.append(name)
        if len(saved) == 1:
            job_cancel(job=SeparationJob.objects.get(id=job.id))

    monkeypatch.setattr(fakes.SlowStorage, "after_save", cancel_after_the_first_file)
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")

    assert (
        job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine())
        == Status.CANCELLED
    )

    assert saved  # some were stored before the worker saw the cancel; none is left
    assert all(not (private_media / name).exists() for name in saved)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert not job.track.assets.exclude(kind=Asset.Kind.ORIGINAL).exists()


def test_a_job_cancelled_after_its_last_report_records_nothing(job, private_media, monkeypatch):
    from separation.services import running

    store = running.track_store_outputs

    def store_then_cancel(**kwargs):
        outputs = store(**kwargs)
        job_cancel(job=SeparationJob.objects.get(id=job.id))
        return outputs

    monkeypatch.setattr(running, "track_store_outputs", store_then_cancel)
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")

    assert (
        job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine())
        == Status.CANCELLED
    )
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert not job.track.assets.exclude(kind=Asset.Kind.ORIGINAL).exists()
    assert [p for p in private_media.rglob("*") if p.is_file() and "original" not in p.name] == []


def test_a_bad_audio_failure_is_recorded_with_its_reason(job):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    bad = fakes.FakeEngine(fail_with=engine.AudioError("The audio is silent."))
    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=bad) == Status.FAILED
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "The audio is silent." in job.error
    assert job.finished_at is not None


def test_an_unexpected_error_fails_the_job_with_a_generic_message(job):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    broken = fakes.FakeEngine(fail_with=RuntimeError("tensor exploded"))
    assert job_run(SEPARATION, job=claimed, worker_id="w", engine=broken) == Status.FAILED
    job.refresh_from_db()
    assert job.error == GENERIC_FAILURE
    assert "tensor" not in job.error


def test_a_failed_job_leaves_no_stems_behind(job, private_media):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    job_run(
        SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(fail_with=RuntimeError("x"))
    )
    files = [p.name for p in private_media.rglob("*") if p.is_file()]
    assert files == ["original.wav"]


def test_a_failed_job_can_be_retried(job):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    job_run(
        SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(fail_with=RuntimeError("x"))
    )
    assert job_retry(job=job) is True
    job.refresh_from_db()
    assert (job.status, job.error, job.progress) == (Status.QUEUED, "", 0)
    again = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_run(SEPARATION, job=again, worker_id="w", engine=fakes.FakeEngine()) == Status.DONE


def test_a_queued_or_running_job_cannot_be_retried(job):
    assert job_retry(job=job) is False
    job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_retry(job=job) is False


def test_a_queued_job_can_be_cancelled_and_is_then_never_claimed(job):
    assert job_cancel(job=job) is True
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert job_claim_next(SEPARATION, worker_id="w") is None


def test_a_running_job_can_be_cancelled_and_no_worker_can_write_to_it_then(job):
    job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_cancel(job=job) is True
    job.refresh_from_db()
    assert (job.status, job.can_cancel, job.can_retry) == (Status.CANCELLED, False, True)
    assert not SeparationJob.objects.claimed(pk=job.id, worker_id="w").exists()


def test_a_finished_job_cannot_be_cancelled(job):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    job_run(SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine())
    assert job_cancel(job=job) is False
    job.refresh_from_db()
    assert job.status == Status.DONE


def test_a_cancelled_job_can_be_queued_again(job):
    job_cancel(job=job)
    assert job_retry(job=job) is True
    job.refresh_from_db()
    assert job.status == Status.QUEUED


def test_a_job_whose_track_was_deleted_mid_run_leaves_no_files(job, private_media):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")

    def delete_track(fraction):
        if fraction == 1.0:
            SeparationJob.objects.get(id=job.id).track.delete()

    job_run(
        SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(on_progress=delete_track)
    )
    stems = [p for p in private_media.rglob("*") if p.is_file() and "original" not in p.name]
    assert stems == []


def test_a_stopping_worker_puts_its_job_back_in_the_queue(job):
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="w")
    result = job_run(
        SEPARATION, job=claimed, worker_id="w", engine=fakes.FakeEngine(), should_stop=lambda: True
    )
    assert result == Status.QUEUED
    job.refresh_from_db()
    assert (job.status, job.claimed_by, job.attempts) == (Status.QUEUED, "", 0)


def test_a_job_with_a_stale_heartbeat_is_requeued(job, settings):
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:dead")
    SeparationJob.objects.filter(id=job.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    )
    assert job_recover_orphans(
        SEPARATION,
    ) == [job.id]
    job.refresh_from_db()
    assert (job.status, job.claimed_by) == (Status.QUEUED, "")


def test_a_job_with_a_fresh_heartbeat_on_another_host_is_left_alone(job):
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:alive")
    assert (
        job_recover_orphans(
            SEPARATION,
        )
        == []
    )
    job.refresh_from_db()
    assert job.status == Status.RUNNING


def test_a_job_of_a_dead_process_on_this_host_is_requeued_at_once(job):
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(finished.stdout)
    job_claim(SEPARATION, job_id=job.id, worker_id=f"{socket.gethostname()}:{dead_pid}:gone")
    assert job_recover_orphans(
        SEPARATION,
    ) == [job.id]


def test_the_next_run_deletes_stems_a_dead_run_stored_but_never_recorded(job, track, settings):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    orphan = default_storage.save(f"tracks/{track.id}/abc123-instrumental.wav", ContentFile(b"x"))
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:dead")
    SeparationJob.objects.filter(id=job.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    )
    assert job_recover_orphans(
        SEPARATION,
    ) == [job.id]
    # The dead worker may only be slow: its files are the claim holder's to sweep, and the
    # claim holder now is the next run.
    assert default_storage.exists(orphan)
    assert job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine()) == Status.DONE
    assert not default_storage.exists(orphan)
    track.refresh_from_db()
    assert default_storage.exists(track.original.name)  # what the assets name stays
    assert all(default_storage.exists(name) for name in track.stored_names)


def test_a_slow_worker_that_finishes_before_recovery_keeps_its_files(job, track, settings):
    """Its heartbeat went stale while it stored its files, then it recorded them: recovery
    must find nothing to take back, and delete nothing."""
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:slow")
    SeparationJob.objects.filter(id=job.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    )
    assert (
        job_run(SEPARATION, job=claimed, worker_id="otherhost:1:slow", engine=fakes.FakeEngine())
        == "done"
    )
    assert (
        job_recover_orphans(
            SEPARATION,
        )
        == []
    )
    track.refresh_from_db()
    assert len(track.stored_names) == 9  # original; 2 stems; 3 pictures, 3 peaks
    assert all(default_storage.exists(name) for name in track.stored_names)


def test_a_job_given_up_on_has_its_unrecorded_files_swept_at_once(job, track, settings):
    from django.core.files.base import ContentFile

    settings.SEPARATION_MAX_ATTEMPTS = 1
    orphan = default_storage.save(f"tracks/{track.id}/abc123-vocals.wav", ContentFile(b"x"))
    job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:dead")
    SeparationJob.objects.filter(id=job.id).update(heartbeat_at=None)
    assert job_recover_orphans(
        SEPARATION,
    ) == [job.id]
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert not default_storage.exists(orphan)
    assert default_storage.exists(track.original.name)


@pytest.mark.django_db(transaction=True)  # real commits, so the dispatch hook really runs
def test_a_broker_that_is_down_does_not_undo_an_upload(alice, tmp_path, sent_messages):
    sent_messages.down = True
    track = make_track(owner=alice, tmp_path=tmp_path, title="Kept")
    assert sent_messages == []
    track.refresh_from_db()
    assert track.job.status == Status.QUEUED  # the row stays the truth; a worker can take it
    assert track.job.dispatched_at is None  # never sent: the sweep sends it
    assert default_storage.exists(track.original.name)


def test_a_job_of_a_live_process_on_this_host_is_left_alone(job):
    job_claim(SEPARATION, job_id=job.id, worker_id=f"{socket.gethostname()}:{os.getppid()}:alive")
    assert (
        job_recover_orphans(
            SEPARATION,
        )
        == []
    )


def test_a_job_that_keeps_killing_workers_is_failed_instead_of_requeued(job, settings):
    settings.SEPARATION_MAX_ATTEMPTS = 2
    old = timezone.now() - timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    for _ in range(2):
        job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:dead")
        SeparationJob.objects.filter(id=job.id).update(heartbeat_at=old)
        job_recover_orphans(
            SEPARATION,
        )
    job.refresh_from_db()
    assert (job.status, job.error) == (Status.FAILED, TOO_MANY_ATTEMPTS)


def test_process_by_id_is_quiet_when_the_job_vanished_or_is_taken_and_nothing_waits(job):
    job_claim(SEPARATION, job_id=job.id, worker_id="w")
    assert job_process(SEPARATION, job_id=999_999, engine=fakes.FakeEngine()) is None
    assert job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine()) is None


def test_the_message_of_a_vanished_job_runs_the_job_next_in_turn(job):
    """Every queued job has a message: one whose own job is gone runs whatever waits."""
    assert job_process(SEPARATION, job_id=999_999, engine=fakes.FakeEngine()) == Status.DONE
    job.refresh_from_db()
    assert job.status == Status.DONE


def test_process_by_id_runs_a_queued_job(job):
    assert job_process(SEPARATION, job_id=job.id, engine=fakes.FakeEngine()) == Status.DONE


def test_a_slow_storage_write_does_not_lose_the_claim(job, settings, monkeypatch):
    """Storing takes longer than the stale limit; the heartbeat goes on while it stores, so
    another worker's recovery pass in the middle of it finds nothing to take back.

    No waiting: the run's clock moves a heartbeat's interval on at every look, as on a slow
    disk, and after each stored file the row is made to look as old as the stale limit, as if
    storing that file had taken that long. The recovery pass after the next file finds a
    fresh heartbeat only because the run wrote one while storing it."""
    from jobs import runner

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "BACKEND": "tests.fakes.SlowStorage"},
    }
    claimed = job_claim(SEPARATION, job_id=job.id, worker_id="otherhost:1:slow")
    stale = timedelta(seconds=settings.SEPARATION_STALE_AFTER_S + 1)
    looks = []
    recovered, stored = [], []

    def slow_clock() -> float:
        looks.append(None)
        return len(looks) * SEPARATION.heartbeat_every_s

    def after_save(name: str) -> None:
        stored.append(name)
        recovered.extend(
            job_recover_orphans(
                SEPARATION,
            )
        )
        SeparationJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - stale)

    monkeypatch.setattr(fakes.SlowStorage, "after_save", after_save)
    outcome = runner.job_run(
        SEPARATION,
        job=claimed,
        worker_id="otherhost:1:slow",
        engine=fakes.FakeEngine(),
        clock=slow_clock,
    )

    assert outcome == "done"
    assert len(stored) >= 3  # stems, waveforms and peaks: each had its turn to go stale
    assert recovered == []
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Status.DONE, 1)
