"""The import contracts (pyproject.toml) hold, and they do bite: a wrong-way import, even one
hidden inside a function, fails them."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "jamwithme",
    "accounts",
    "audit",
    "bands",
    "tracks",
    "notifications",
    "separation",
    "practice",
    "jobs",
    "engine",
    "catalog",
    "imports",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "300"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def tree(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def append(path: Path, code: str) -> None:
    path.write_text(path.read_text() + "\n" + code + "\n")


def test_the_contracts_hold(tree):
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 7 kept, 0 broken." in result.stdout


def test_no_contract_ignores_an_import():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    assert contracts
    assert [c["name"] for c in contracts if c.get("ignore_imports")] == []


@pytest.mark.parametrize(
    ("module", "code", "broken"),
    [
        (
            "tracks/services.py",
            "def later():\n    from separation.services.dispatch import job_enqueue  # noqa",
            "Apps depend one way",
        ),
        ("notifications/consumers.py", "import tracks.access  # noqa", "Apps depend one way"),
        ("bands/models.py", "import tracks.models  # noqa", "Apps depend one way"),
        ("audit/services.py", "import accounts.models  # noqa", "Apps depend one way"),
        (
            "jobs/state.py",
            "def later():\n    from separation.events import job_publish  # noqa",
            "Apps depend one way",
        ),
        ("engine/audio.py", "import django  # noqa", "The engine is pure"),
        ("engine/dsp.py", "def later():\n    import tracks.models  # noqa", "The engine is pure"),
        ("catalog/stems.py", "import numpy  # noqa", "The registries depend on nothing"),
        ("catalog/stems.py", "def later():\n    import engine  # noqa", "Apps depend one way"),
        (
            "separation/services/state.py",
            "def later():\n    from separation.tasks import separate_task  # noqa",
            "Inside separation",
        ),
        (
            "practice/models.py",
            "def later():\n    from separation.services import running  # noqa",
            "Apps depend one way",
        ),
        (
            "tracks/views.py",
            "def later():\n    from practice.models import Render  # noqa",
            "Apps depend one way",
        ),
        ("practice/audio.py", "import django.conf  # noqa", "Rendering exports is pure audio"),
        (
            "practice/services.py",
            "def later():\n    from practice.tasks import render_task  # noqa",
            "Inside practice",
        ),
        (
            "separation/services/dispatch.py",
            "def later():\n    from imports.models import ImportJob  # noqa",
            "Apps depend one way",
        ),
        ("imports/guard.py", "import django.conf  # noqa", "Inside imports"),
    ],
    ids=[
        "tracks-to-separation",
        "notifications-to-tracks",
        "bands-to-tracks",
        "audit-to-accounts",
        "jobs-to-separation",
        "engine-to-django",
        "engine-to-tracks",
        "catalog-to-numpy",
        "catalog-to-engine",
        "state-to-tasks",
        "practice-to-separation",
        "tracks-to-practice",
        "render-audio-to-django",
        "render-services-to-tasks",
        "separation-to-imports",
        "guard-to-django",
    ],
)
def test_a_wrong_way_import_breaks_a_contract(tree, module, code, broken):
    append(tree / module, code)
    result = lint_imports(tree)
    assert result.returncode == 1
    broken_contracts = [
        line for line in result.stdout.splitlines() if re.search(r" BROKEN( \(.*\))?$", line)
    ]
    assert any(line.startswith(broken) for line in broken_contracts), result.stdout
