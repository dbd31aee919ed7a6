"""Run JamWithMe in the embedded mode: migrate, then the web server
and the separation worker as child processes, supervised: one that exits unasked is
started again after a back-off (1 s, doubling to 60 s; reset once it has run a minute),
so a crashed worker never takes the site down. Ctrl-C (or SIGTERM) stops both."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT_S = 20
READY_TIMEOUT_S = 60
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
WEB_DB_POOL_SIZE = 20
HEALTHY_AFTER_S = 60.0  # a child that ran this long before exiting starts from 1 s again


def web_command(host: str, port: int, *, fd: int | None = None) -> list[str]:
    """uvicorn: it streams request bodies with flow control (daphne held each upload in
    memory whole, about 12x its size; see bench/web_memory.py and docs/running.md). With
    ``fd``, it serves on that inherited socket, already bound, instead of binding one."""
    where = ["--host", host, "--port", str(port)] if fd is None else ["--fd", str(fd)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        *where,
        "--ws",
        "websockets-sansio",
        "--lifespan",
        "off",
        "--timeout-graceful-shutdown",
        "10",
        "jamwithme.asgi:application",
    ]


def web_environment() -> dict[str, str]:
    """The web process pools its PostgreSQL connections (JAM_DB_POOL_SIZE, as docs/deploy.md's
    web process sets it), unless told otherwise; the worker keeps none."""
    return {"JAM_DB_POOL_SIZE": os.environ.get("JAM_DB_POOL_SIZE") or str(WEB_DB_POOL_SIZE)}


def worker_command() -> list[str]:
    return [sys.executable, str(settings.BASE_DIR / "manage.py"), "separation_worker"]


@dataclass
class Child:
    """One supervised process."""

    name: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff_s: float = FIRST_BACKOFF_S
    restarts: int = field(default=0)
    env: dict[str, str] | None = None  # added to this process's environment
    pass_fds: tuple[int, ...] = ()  # inherited by the process (a socket to serve on)

    def start(self) -> None:
        # Its own session: Ctrl-C reaches only `serve`, which stops the children in order.
        self.process = subprocess.Popen(
            self.command,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            env={**os.environ, **self.env} if self.env else None,
            pass_fds=self.pass_fds,
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def exited(self) -> int | None:
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def schedule_restart(self) -> float:
        """Back off before the next start; returns the delay."""
        if time.monotonic() - self.started_at >= HEALTHY_AFTER_S:
            self.backoff_s = FIRST_BACKOFF_S
        delay = self.backoff_s
        self.backoff_s = min(self.backoff_s * 2, MAX_BACKOFF_S)
        self.restart_at = time.monotonic() + delay
        self.restarts += 1
        return delay

    def due(self) -> bool:
        return self.restart_at is not None and time.monotonic() >= self.restart_at

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def bound_address(fd: int) -> tuple[str, int]:
    """The host and port an inherited socket is bound to (CommandError if it is none)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as sock:
            host, port = sock.getsockname()[:2]
    except OSError as exc:
        raise CommandError(f"--fd {fd} is not a socket: {exc}") from exc
    if not port:
        raise CommandError(f"--fd {fd} is not bound to a port.")
    return host, port


class Command(BaseCommand):
    help = "Set up the database, then run the web server and the worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (8000).")
        parser.add_argument("--no-worker", action="store_true", help="Run only the web server.")
        parser.add_argument(
            "--fd",
            type=int,
            help="Serve on this inherited TCP socket, already bound (by a supervisor, or a "
            "test that must not lose its port); --host and --port are then read from it.",
        )

    def handle(self, *args, host: str, port: int, no_worker: bool, fd: int | None, **options):
        if fd is not None:
            host, port = bound_address(fd)
        call_command("migrate", interactive=False, verbosity=1)

        inherited = () if fd is None else (fd,)  # kept open here: a restarted server reuses it
        children = [
            Child("web", web_command(host, port, fd=fd), env=web_environment(), pass_fds=inherited)
        ]
        if not no_worker:
            children.append(Child("worker", worker_command()))

        stopping = threading.Event()

        def on_signal(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        for child in children:
            self._start(child)
        try:
            self._wait_until_ready(children[0], host, port, stopping)
        except CommandError:
            for child in children:
                child.stop()
            for child in children:
                child.wait()
            raise

        while not stopping.wait(0.5):
            for child in children:
                code = child.exited()
                if code is not None:
                    delay = child.schedule_restart()
                    self.stderr.write(
                        f"The {child.name} process exited with status {code}; "
                        f"starting it again in {delay:g} s."
                    )
                    self.stderr.flush()
                elif child.due():
                    self._start(child)

        self.stdout.write("Stopping…")
        for child in children:
            child.stop()
        for child in children:
            child.wait()
        self.stdout.write("Stopped.")

    def _start(self, child: Child) -> None:
        child.start()
        self.stdout.write(f"Started the {child.name} process (pid {child.process.pid}).")
        self.stdout.flush()

    def _wait_until_ready(self, web: Child, host: str, port: int, stopping) -> None:
        """Say "running" only once the web server accepts connections."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _accepts_connections(host, port):
            if web.process.poll() is not None or time.monotonic() > deadline:
                raise CommandError(
                    f"The web server did not start on {host}:{port} "
                    f"(is the port in use?). See the messages above."
                )
            if stopping.wait(0.2):
                return
        self.stdout.write(
            self.style.SUCCESS(f"JamWithMe is running on http://{host}:{port}/ (Ctrl-C stops it)")
        )
        self.stdout.flush()
