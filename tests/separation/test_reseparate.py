"""Model versions: each separation records what made it, and `manage.py reseparate` runs
done tracks again in the background, keeping their old stems until the new ones are stored."""

from io import StringIO

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

import engine
from jobs.runner import Outcome, job_run
from jobs.services import job_claim_next
from separation.kind import SEPARATION
from separation.models import SeparationJob
from separation.services.dispatch import job_limit_check
from tests import fakes
from tests.factories import make_track
from tracks.models import Asset

pytestmark = pytest.mark.django_db
Status = SeparationJob.Status


def stem_names(track) -> set[str]:
    return set(track.assets.filter(kind=Asset.Kind.STEM).values_list("name", flat=True))


def reseparate(*args) -> str:
    out = StringIO()
    call_command("reseparate", *args, stdout=out)
    return out.getvalue()


def run_next(engine=None) -> Outcome:
    job = job_claim_next(SEPARATION, worker_id="w")
    return job_run(SEPARATION, job=job, worker_id="w", engine=engine or fakes.FakeEngine())


@pytest.fixture
def separated(alice, tmp_path):
    return make_track(owner=alice, tmp_path=tmp_path, separated=True)


def test_each_separation_records_the_model_its_weights_hash_and_the_engine_version(separated):
    job = separated.job
    identity = engine.model_identity()
    assert (job.model_name, job.weights_sha256, job.engine_version) == (
        identity["model"],
        identity["weights_sha256"],
        identity["engine"],
    )
    assert len(job.weights_sha256) == 64 and job.model_name == "2stems"


def test_outdated_queues_only_the_tracks_another_model_made_in_the_background(
    separated, alice, tmp_path, settings
):
    older = make_track(owner=alice, tmp_path=tmp_path, title="Old", separated=True)
    SeparationJob.objects.filter(pk=older.job.pk).update(weights_sha256="0" * 64)
    assert "Queued 1 track(s)" in reseparate("--outdated")
    older.job.refresh_from_db()
    separated.job.refresh_from_db()
    assert (older.job.status, older.job.background) == (Status.QUEUED, True)
    assert separated.job.status == Status.DONE
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1
    job_limit_check(owner_id=alice.pk)  # a re-separation holds no place in the owner's cap


def test_a_reseparated_track_keeps_its_old_stems_until_the_new_ones_are_stored(
    separated, django_capture_on_commit_callbacks
):
    old = stem_names(separated)
    SeparationJob.objects.filter(pk=separated.job.pk).update(engine_version="2025.01")
    reseparate(str(separated.id))
    assert stem_names(separated) == old  # queued: the old stems stay
    seen_while_separating = []
    engine_ = fakes.FakeEngine(
        on_progress=lambda fraction: seen_while_separating.append(
            stem_names(separated) == old and all(default_storage.exists(n) for n in old)
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert run_next(engine_) == Outcome.DONE
    assert seen_while_separating and all(seen_while_separating)
    new = stem_names(separated)
    assert new and not new & old  # swapped for the new run's files
    assert all(default_storage.exists(n) for n in new)
    assert not any(default_storage.exists(n) for n in old)  # deleted after the commit
    separated.job.refresh_from_db()
    assert (separated.job.engine_version, separated.job.background) == (
        engine.ENGINE_VERSION,
        False,
    )


def test_a_failed_reseparation_leaves_the_old_stems_in_place(separated):
    old = stem_names(separated)
    reseparate(str(separated.id))
    failing = fakes.FakeEngine(fail_with=engine.AudioError("broken"))
    assert run_next(failing) == Outcome.FAILED
    assert stem_names(separated) == old
    assert all(default_storage.exists(n) for n in old)


def test_an_upload_is_claimed_before_a_reseparation_queued_earlier(separated, bob, tmp_path):
    reseparate("--all")
    upload = make_track(owner=bob, tmp_path=tmp_path, title="New")
    assert job_claim_next(SEPARATION, worker_id="w").pk == upload.job.pk
    assert job_claim_next(SEPARATION, worker_id="w").pk == separated.job.pk


def test_the_command_wants_tracks_or_a_choice_and_can_count_without_queueing(separated):
    with pytest.raises(CommandError):
        reseparate()
    with pytest.raises(CommandError):
        reseparate("not-an-id")
    assert "1 track(s) would be separated again" in reseparate("--all", "--dry-run")
    separated.job.refresh_from_db()
    assert separated.job.status == Status.DONE
