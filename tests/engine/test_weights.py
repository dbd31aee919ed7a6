import json
import shutil

import pytest

from separation.engine import ModelError, weights
from separation.engine.model import UNetModel


@pytest.fixture
def installed_copy(tmp_path):
    """A copy of the installed checkpoint folder (the big data file is linked, not copied)."""
    source = weights.verify()
    target = tmp_path / "2stems"
    target.mkdir()
    for name in weights.FILES:
        if name.startswith("model.data"):
            (target / name).symlink_to(source / name)
        else:
            shutil.copy(source / name, target / name)
    return target


def test_the_installed_weights_match_their_published_hashes():
    folder = weights.verify()
    assert sorted(p.name for p in folder.iterdir() if p.name in weights.FILES) == sorted(
        weights.FILES
    )


def test_it_names_the_missing_file(installed_copy):
    (installed_copy / "model.index").unlink()
    with pytest.raises(ModelError, match=r"model\.index is missing"):
        weights.verify(installed_copy)


def test_it_names_the_corrupt_file(installed_copy):
    (installed_copy / "checkpoint").write_text('model_checkpoint_path: "model"\n')
    with pytest.raises(ModelError, match=r"checkpoint has sha256 .* expected 011c96b9"):
        weights.verify(installed_copy)


def test_the_model_refuses_an_empty_folder_instead_of_running_on_random_weights(tmp_path):
    # An empty model folder is what a failed Spleeter download leaves behind; Spleeter itself
    # then runs silently on random weights.
    empty = tmp_path / "2stems"
    empty.mkdir()
    with pytest.raises(ModelError, match="is missing"):
        UNetModel(empty)


def test_a_missing_folder_points_at_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(ModelError, match=r"separation\.engine fetch-weights"):
        weights.verify()


@pytest.mark.model
def test_a_stale_onnx_export_is_rebuilt_from_the_checked_checkpoint(installed_copy):
    from separation.engine import export

    first = weights.onnx_model(installed_copy)
    manifest = installed_copy / export.MANIFEST_NAME
    good = manifest.read_text()
    first.write_bytes(b"not the exported network")  # e.g. a half-written or tampered file
    rebuilt = weights.onnx_model(installed_copy)
    assert rebuilt.stat().st_size > 1_000_000
    assert manifest.read_text() == good


def test_the_installed_onnx_export_matches_its_manifest():
    from separation.engine import export

    folder = weights.verify()
    manifest = json.loads((folder / export.MANIFEST_NAME).read_text())
    assert manifest["checkpoint_sha256"] == weights.FILES
    assert manifest["onnx_sha256"] == weights.sha256_of(folder / export.ONNX_NAME)
