import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


# What the scale-out test pass sets for itself; a fresh embedded process has none of it.
SCALE_OUT = (
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "AWS_STORAGE_BUCKET_NAME",
)


def load_settings(tmp_path, *, show: str = "settings.DEBUG", **env):
    """A fresh process's settings under ``env``: it prints ``show``."""
    code = f"import django; django.setup(); from django.conf import settings; print({show})"
    inherited = {name: value for name, value in os.environ.items() if name not in SCALE_OUT}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **inherited,
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


def test_importing_the_settings_creates_nothing(tmp_path):
    var, static = tmp_path / "var", tmp_path / "static_root"
    code = "import jamwithme.settings as s; print(len(s.DATABASES), s.STATIC_ROOT)"
    inherited = {name: value for name, value in os.environ.items() if name not in SCALE_OUT}
    env = {**inherited, "JAM_VAR_DIR": str(var), "STATIC_ROOT": str(static)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", str(static)]
    assert list(tmp_path.iterdir()) == []


def test_the_generated_secret_key_is_made_on_first_use_and_shared_by_later_processes(tmp_path):
    var = tmp_path / "var"
    signing = "__import__('django.core.signing', fromlist=['signing'])"
    first = load_settings(var, show=f"{signing}.dumps('hello')")
    assert first.returncode == 0, first.stderr
    assert oct((var / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert [path.name for path in var.iterdir()] == ["secret_key"]  # nothing left beside it
    signed = first.stdout.strip()
    second = load_settings(var, show=f"{signing}.loads({signed!r})")
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "hello"


def test_the_sqlite_folder_is_made_when_the_apps_are_ready(tmp_path):
    var = tmp_path / "var"
    result = load_settings(var, show="settings.DATABASES['default']['NAME']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(var / "db.sqlite3")
    assert var.is_dir() and not (var / "secret_key").exists()


def test_stored_files_have_no_public_base_url():
    from jamwithme import settings as module

    assert module.STORAGES["default"]["OPTIONS"]["base_url"] is None


def test_a_shared_database_needs_a_shared_secret_key(tmp_path):
    env = {"DATABASE_URL": "postgres://jam@db.example.org/jam"}
    result = load_settings(tmp_path, **{**env, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in the environment" in result.stderr
    assert not (tmp_path / "secret_key").exists()
    assert load_settings(tmp_path, **env, SECRET_KEY="k" * 50).returncode == 0


def test_several_nodes_on_the_word_of_jam_multi_node_need_a_shared_secret_key(tmp_path):
    result = load_settings(tmp_path, JAM_MULTI_NODE="true", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in the environment" in result.stderr


def test_one_machine_on_sqlite_keeps_its_generated_secret_key(tmp_path):
    result = load_settings(
        tmp_path,
        show="len(settings.SECRET_KEY)",
        SECRET_KEY="",
        DATABASE_URL=f"sqlite:///{tmp_path}/db",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len((tmp_path / "secret_key").read_text().strip()))


PRODUCTION = {
    "DEBUG": "false",
    "JAM_MULTI_NODE": "true",
    "SECRET_KEY": "s3cret-" + "x1Y2z3" * 10,
    "ALLOWED_HOSTS": "jam.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://jam.example.org",
    "SECURE_COOKIES": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "SECURE_PROXY_SSL_HEADER": "true",
    "EMAIL_HOST": "mail.example.org",
}


def manage(tmp_path, *args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "JAM_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
    )


def test_the_deploy_checks_pass_with_production_settings_from_the_environment(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_checks_warn_without_them(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W008" in result.stderr


def test_the_deploy_checks_warn_that_mail_goes_to_the_log_without_a_mail_server(tmp_path):
    without_mail = {**PRODUCTION, "EMAIL_HOST": ""}
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **without_mail)
    assert result.returncode != 0
    assert "jamwithme.W001" in result.stderr
    assert "EMAIL_HOST is not set" in result.stderr
    # Only --deploy asks: one machine tried out by its owner reads its links in the log.
    assert manage(tmp_path, "check", "--fail-level", "WARNING", **without_mail).returncode == 0


def test_an_unknown_engine_device_stops_the_process_with_the_choices(tmp_path):
    result = load_settings(tmp_path, JAM_ENGINE_DEVICE="gpu")
    assert result.returncode != 0
    assert "JAM_ENGINE_DEVICE='gpu': use cpu, cuda or cuda:N" in result.stderr


def test_a_gpu_device_batches_eight_segments_unless_told_otherwise(tmp_path):
    show = "settings.JAM_ENGINE_DEVICE, settings.JAM_ENGINE_BATCH, settings.SEPARATION_QUEUE"
    gpu_queue = {"JAM_SEPARATION_QUEUE": "separation-gpu"}
    for env, expected in (
        ({}, "cpu 0 separation"),
        ({"JAM_ENGINE_DEVICE": "cuda:1"}, "cuda:1 8 separation"),
        (
            {"JAM_ENGINE_DEVICE": "CUDA", "JAM_ENGINE_BATCH": "4", **gpu_queue},
            "cuda 4 separation-gpu",
        ),
    ):
        result = load_settings(tmp_path, show=show, **env)
        assert result.stdout.strip() == expected, result.stderr


def test_with_a_bucket_the_content_security_policy_lets_the_browser_reach_it_and_nothing_else(
    tmp_path,
):
    show = (
        "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'],"
        "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['media-src']"
    )
    result = load_settings(
        tmp_path,
        show=show,
        SECRET_KEY="x" * 50,
        AWS_STORAGE_BUCKET_NAME="jam",
        AWS_S3_ENDPOINT_URL="https://s3.example.org:9000/ignored/path",
    )
    assert result.returncode == 0, result.stderr
    origin = "https://s3.example.org:9000"
    assert result.stdout.split("\n")[0] == f"[\"'self'\", '{origin}'] [\"'self'\", '{origin}']"
    embedded = load_settings(tmp_path, show=show.split(",")[0])
    assert embedded.stdout.strip() == "[\"'self'\"]"
