"""Run JamWithMe in the embedded mode: migrate, collect static files, then the web server
(daphne) and the separation worker as two processes, stopped together on Ctrl-C."""

import signal
import subprocess
import sys
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

STOP_TIMEOUT_S = 20


class Command(BaseCommand):
    help = "Set up the database and static files, then run the web server and the worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="Run only the web server.")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options):
        call_command("migrate", interactive=False, verbosity=1)
        call_command("collectstatic", interactive=False, verbosity=0)

        commands = {
            "web": [
                sys.executable,
                "-m",
                "uvicorn",
                "--host",
                host,
                "--port",
                str(port),
                "--ws",
                "websockets",
                "--lifespan",
                "off",
                "--timeout-graceful-shutdown",
                "10",
                "jamwithme.asgi:application",
            ],
        }
        if not no_worker:
            commands["worker"] = [
                sys.executable,
                str(settings.BASE_DIR / "manage.py"),
                "separation_worker",
            ]

        stopping = threading.Event()

        def on_signal(signum, frame):
            stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        processes = {
            # Own sessions: Ctrl-C reaches only this command, which stops both in order.
            name: subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True)
            for name, command in commands.items()
        }
        self.stdout.write(
            self.style.SUCCESS(f"JamWithMe is running on http://{host}:{port}/ (Ctrl-C stops it)")
        )
        failed = None
        while not stopping.wait(0.5):
            for name, process in processes.items():
                if process.poll() is not None:
                    failed = (name, process.returncode)
                    stopping.set()
                    break

        self.stdout.write("Stopping…")
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if failed:
            name, code = failed
            raise CommandError(f"The {name} process exited with status {code}; stopped everything.")
        self.stdout.write("Stopped.")
