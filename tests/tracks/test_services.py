"""The track services that keep a track's files: storing and recording a run's outputs,
and sweeping what a dead run left behind."""

from django.core.files.storage import default_storage

from tests import fakes
from tests.factories import make_track
from tracks import files
from tracks.models import Asset
from tracks.services import (
    track_record_outputs,
    track_store_outputs,
    track_sweep_unreferenced_files,
)


def store_a_run(track, tmp_path):
    stems = {
        "instrumental": fakes.write_wav(tmp_path / "i.wav"),
        "vocals": fakes.write_wav(tmp_path / "v.wav"),
    }
    picture = tmp_path / "w.png"
    picture.write_bytes(b"\x89PNG")
    return track_store_outputs(track_id=track.id, stems=stems, waveforms={"": picture})


def test_a_run_is_stored_under_names_built_by_the_files_module(alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    outputs = store_a_run(track, tmp_path)
    folder = files.track_folder(track.id)
    assert {(o.kind, o.stem) for o in outputs} == {
        ("stem", "instrumental"),
        ("stem", "vocals"),
        ("waveform", ""),
    }
    assert all(o.name.startswith(folder + "/") and default_storage.exists(o.name) for o in outputs)
    assert any(o.name.endswith("-waveform-original.png") for o in outputs)
    assert track.assets.count() == 1  # stored, not yet recorded


def test_a_new_run_replaces_the_previous_runs_files_once_it_commits(
    alice, tmp_path, django_capture_on_commit_callbacks
):
    track = make_track(owner=alice, tmp_path=tmp_path)
    first = store_a_run(track, tmp_path)
    track_record_outputs(track_id=track.id, job_id=1, outputs=first)
    second = store_a_run(track, tmp_path)
    with django_capture_on_commit_callbacks(execute=True):
        track_record_outputs(track_id=track.id, job_id=2, outputs=second)
    current = set(track.assets.exclude(kind=Asset.Kind.ORIGINAL).values_list("name", "job_id"))
    assert current == {(o.name, 2) for o in second}
    assert not any(default_storage.exists(o.name) for o in first)
    assert default_storage.exists(track.original.name)


def test_the_sweep_deletes_only_what_no_asset_names(alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    unrecorded = store_a_run(track, tmp_path)
    swept = track_sweep_unreferenced_files(track_id=track.id)
    assert sorted(swept) == sorted(o.name for o in unrecorded)
    assert default_storage.exists(track.original.name)
