"""Scratch space for job runs (every kind). Each worker process works in its own folder,
``<JAM_SCRATCH_DIR>/<host>-<pid>/``, so what a process that died (kill -9, out of memory, a
power cut) left behind can be told from a live one's, and is swept when any worker on the
same host starts. A process id still in use keeps its folder: at worst a dead run's folder
waits for the next sweep, a live one's is never touched."""

import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def _folder_name(pid: int) -> str:
    return f"{socket.gethostname()}-{pid}"


def process_scratch() -> Path:
    """This process's scratch folder (created on first use; a forked child gets its own)."""
    folder = Path(settings.JAM_SCRATCH_DIR) / _folder_name(os.getpid())
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def use_process_scratch() -> Path:
    """Send every temporary file of this process (the engine's decodes too) to its folder."""
    folder = process_scratch()
    tempfile.tempdir = str(folder)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def scratch_sweep() -> list[Path]:
    """Delete the scratch folders of this host's processes that are gone. Returns them."""
    root = Path(settings.JAM_SCRATCH_DIR)
    if not root.is_dir():
        return []
    host = socket.gethostname()
    swept = []
    for folder in root.iterdir():
        folder_host, _, pid_text = folder.name.rpartition("-")
        if folder_host != host or not pid_text.isdigit() or not folder.is_dir():
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        swept.append(folder)
    if swept:
        logger.warning("Swept %d scratch folder(s) of dead worker processes", len(swept))
    return swept
