import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine import ModelError, export, weights
from engine.model import UNetModel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed_copy(tmp_path):
    """A model folder holding a copy of the installed ``2stems/`` (the big data file linked)."""
    source = weights.verify()
    target = tmp_path / "models" / "2stems"
    target.mkdir(parents=True)
    for name in weights.FILES:
        if name.startswith("model.data"):
            (target / name).symlink_to(source / name)
        else:
            shutil.copy(source / name, target / name)
    return target.parent


def test_the_installed_weights_match_their_published_hashes():
    folder = weights.verify()
    assert folder == weights.DEFAULT_MODEL_ROOT / "2stems"
    assert sorted(p.name for p in folder.iterdir() if p.name in weights.FILES) == sorted(
        weights.FILES
    )


def test_it_names_the_missing_file(installed_copy):
    (installed_copy / "2stems" / "model.index").unlink()
    with pytest.raises(ModelError, match=r"model\.index is missing"):
        weights.verify(installed_copy)


def test_it_names_the_corrupt_file(installed_copy):
    (installed_copy / "2stems" / "checkpoint").write_text('model_checkpoint_path: "model"\n')
    with pytest.raises(ModelError, match=r"checkpoint has sha256 .* expected 011c96b9"):
        weights.verify(installed_copy)


def test_the_model_refuses_an_empty_folder_instead_of_running_on_random_weights(tmp_path):
    # An empty model folder is what a failed Spleeter download leaves behind; Spleeter itself
    # then runs silently on random weights.
    (tmp_path / "2stems").mkdir()
    with pytest.raises(ModelError, match="is missing"):
        UNetModel(tmp_path)


def test_a_missing_folder_points_at_the_fetch_command(tmp_path):
    with pytest.raises(ModelError, match=r"python -m engine fetch-weights"):
        weights.verify(tmp_path / "nowhere")


def test_the_command_line_takes_the_model_folder_from_the_environment(tmp_path):
    assert weights.model_root_from_environment({}) == weights.DEFAULT_MODEL_ROOT
    assert weights.model_root_from_environment({"XDG_CACHE_HOME": str(tmp_path)}) == (
        tmp_path / "jamwithme" / "models"
    )
    chosen = {weights.ENV_VAR: str(tmp_path / "mine"), "XDG_CACHE_HOME": str(tmp_path)}
    assert weights.model_root_from_environment(chosen) == tmp_path / "mine"


def test_check_weights_reads_jamwithme_model_dir(installed_copy, tmp_path, capsys):
    assert weights.main(["check-weights"], {weights.ENV_VAR: str(installed_copy)}) == 0
    assert str(installed_copy / "2stems") in capsys.readouterr().out
    assert weights.main(["check-weights"], {weights.ENV_VAR: str(tmp_path / "nowhere")}) == 1
    assert "fetch-weights" in capsys.readouterr().err


def test_python_m_engine_check_weights_still_works(tmp_path):
    command = [sys.executable, "-m", "engine", "check-weights"]
    ok = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    assert ok.returncode == 0, ok.stderr
    assert str(weights.DEFAULT_MODEL_ROOT / "2stems") in ok.stdout
    elsewhere = {"JAMWITHME_MODEL_DIR": str(tmp_path / "nowhere"), "PATH": ""}
    missing = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, env=elsewhere, check=False
    )
    assert missing.returncode == 1
    assert str(tmp_path / "nowhere") in missing.stderr


@pytest.mark.model
def test_a_stale_onnx_export_is_rebuilt_from_the_checked_checkpoint(installed_copy):
    first = weights.onnx_model(installed_copy)
    manifest = installed_copy / "2stems" / export.MANIFEST_NAME
    good = manifest.read_text()
    first.write_bytes(b"not the exported network")  # e.g. a half-written or tampered file
    rebuilt = weights.onnx_model(installed_copy)
    assert rebuilt.stat().st_size > 1_000_000
    assert manifest.read_text() == good


def test_the_installed_onnx_export_matches_its_manifest():
    folder = weights.verify()
    manifest = json.loads((folder / export.MANIFEST_NAME).read_text())
    assert manifest["checkpoint_sha256"] == weights.FILES
    assert manifest["onnx_sha256"] == weights.sha256_of(folder / export.ONNX_NAME)


@pytest.mark.model
def test_a_start_after_a_full_check_trusts_the_stamp_instead_of_hashing_again(
    installed_copy, monkeypatch
):
    weights.onnx_model(installed_copy)  # hashes everything, then records the stamp
    assert (installed_copy / "2stems" / weights.STAMP_NAME).is_file()
    hashed = []
    monkeypatch.setattr(weights, "sha256_of", lambda path: hashed.append(path) or "")
    assert weights.onnx_model(installed_copy) == installed_copy / "2stems" / export.ONNX_NAME
    assert hashed == []


@pytest.mark.model
def test_a_file_changed_after_the_stamp_is_hashed_again_and_refused(installed_copy):
    weights.onnx_model(installed_copy)
    index = installed_copy / "2stems" / "model.index"
    before = index.stat()
    # Same size, different bytes, the old modification time put back: only the ctime (which
    # no user can set) tells, and that is enough.
    index.write_bytes(bytes(b ^ 0xFF for b in index.read_bytes()))
    os.utime(index, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert index.stat().st_size == before.st_size
    with pytest.raises(ModelError, match=r"model\.index has sha256"):
        weights.onnx_model(installed_copy)


def test_a_folder_where_no_stamp_can_be_written_still_starts_by_hashing(installed_copy):
    folder = installed_copy / "2stems"
    (folder / (weights.STAMP_NAME + ".partial")).mkdir()  # any write there fails, even as root
    assert weights.onnx_model(installed_copy) == folder / export.ONNX_NAME
    assert not (folder / weights.STAMP_NAME).exists()
    assert weights.onnx_model(installed_copy) == folder / export.ONNX_NAME
