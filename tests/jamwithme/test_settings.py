import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_settings(tmp_path, **env):
    code = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "jamwithme.settings",
            "JAM_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
    )


def test_the_settings_refuse_a_misspelt_boolean(tmp_path):
    result = load_settings(tmp_path, DEBUG="yes")
    assert result.returncode != 0
    assert "DEBUG must be 'true' or 'false'" in result.stderr


def test_the_embedded_defaults_need_no_environment(tmp_path):
    result = load_settings(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert (tmp_path / "secret_key").exists()


def test_stored_files_have_no_public_base_url():
    from jamwithme import settings as module

    assert module.STORAGES["default"]["OPTIONS"]["base_url"] is None
