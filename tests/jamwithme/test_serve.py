"""`manage.py serve` supervises its children: a crashed worker is started again after a
back-off and the site stays up throughout."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from jamwithme.management.commands import serve
from tests.ports import bound_socket, free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(log: Path, pattern: str, *, after: int = 0, timeout: float = 90) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.compile(pattern).search(log.read_text(), after)
        if match:
            return match
        time.sleep(0.1)
    pytest.fail(f"no {pattern!r} in the log:\n{log.read_text()}")


def interrupt(process) -> None:
    """Ctrl-C, as someone at the terminal would; killed if it is not gone in 40 s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_back_off_doubles_up_to_a_minute_and_resets_after_a_healthy_run(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(serve.time, "monotonic", lambda: clock[0])
    child = serve.Child("worker", ["true"])
    child.started_at = clock[0]
    delays = [child.schedule_restart() for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    clock[0] += serve.HEALTHY_AFTER_S
    assert child.schedule_restart() == 1


def test_a_handed_over_socket_is_served_on_at_its_own_address(tmp_path):
    with bound_socket() as listening:
        assert serve.bound_address(listening.fileno()) == listening.getsockname()
        assert serve.web_command("127.0.0.1", 0, fd=listening.fileno())[3:5] == [
            "--fd",
            str(listening.fileno()),
        ]


def test_a_handed_over_file_that_is_no_bound_socket_is_refused(tmp_path):
    not_a_socket = (tmp_path / "not-a-socket").open("w")
    with not_a_socket, pytest.raises(CommandError, match="is not a socket"):
        serve.bound_address(not_a_socket.fileno())
    with socket.socket() as unbound, pytest.raises(CommandError, match="is not bound to a port"):
        serve.bound_address(unbound.fileno())


@pytest.mark.model  # the worker it starts loads the real model
def test_a_killed_worker_is_started_again_and_the_site_stays_up(tmp_path):
    listening = bound_socket()  # handed to serve: the port is never free for others to take
    port = listening.getsockname()[1]
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "JAM_VAR_DIR": str(tmp_path / "var"),
        "JAM_SCRATCH_DIR": str(tmp_path / "scratch"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--fd", str(listening.fileno())],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=(listening.fileno(),),
        )
    login = f"http://127.0.0.1:{port}/accounts/login/"
    try:
        running = wait_for(log, r"JamWithMe is running on")
        # "running" is said only once the port answers.
        assert urllib.request.urlopen(login, timeout=5).status == 200
        first = wait_for(log, r"Started the worker process \(pid (\d+)\)")
        os.kill(int(first[1]), signal.SIGKILL)

        wait_for(log, r"The worker process exited with status -9; starting it again in 1 s")
        assert urllib.request.urlopen(login, timeout=5).status == 200  # the site is up
        second = wait_for(log, r"Started the worker process \(pid (\d+)\)", after=running.end())
        assert second[1] != first[1]
        assert process.poll() is None
    finally:
        interrupt(process)
        listening.close()
    assert process.returncode == 0
    assert "Stopped." in log.read_text()


def test_scripts_run_serves_on_the_port_it_is_given_and_says_running_only_once_it_answers(
    tmp_path,
):
    # scripts/run as written, in a copy of the repository's root whose scripts/setup does
    # nothing (the real one would install packages into the shared environment).
    root = tmp_path / "checkout"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "run").write_bytes((ROOT / "scripts" / "run").read_bytes())
    (root / "scripts" / "run").chmod(0o755)
    (root / "scripts" / "setup").write_text("#!/usr/bin/env bash\n")
    (root / "scripts" / "setup").chmod(0o755)
    (root / "manage.py").symlink_to(ROOT / "manage.py")
    (root / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)

    port = free_port()
    log = tmp_path / "run.log"
    env = {**os.environ, "JAM_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(root / "scripts" / "run"), "--port", str(port), "--no-worker"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "JamWithMe is running on" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.02)
        # At the moment it says so, the port answers (no retry, no wait).
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        assert f"JamWithMe is running on http://127.0.0.1:{port}/" in log.read_text()
        front = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
        assert "Take the vocals out of any song" in front.read().decode()
    finally:
        interrupt(process)
    assert "Stopped." in log.read_text()
