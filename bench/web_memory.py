"""How much memory the web server grows by for big uploads and for playing big files.

Starts an ASGI server (the one `manage.py serve` runs, or with --servers every candidate)
as a subprocess on a free loopback port with a temporary var dir, creates a user, logs in
over HTTP, then:

* uploads a generated 200 MB WAV (noise, 44.1 kHz stereo 16-bit, ~19 min) to the upload page,
* uploads a 250 MB one, which must be refused (with Content-Length, and chunked without it),
* sends three 100 MB file parts in one request (each under the per-file limit),
* plays the 200 MB original in full and seeks with a few Range requests,

sampling the server's RSS (its process and children) before and at its peak during each
step. Figures are printed, never asserted.

    .venv/bin/python bench/web_memory.py                      # the server `serve` runs
    .venv/bin/python bench/web_memory.py --servers all         # every candidate installed
    .venv/bin/python bench/web_memory.py --servers daphne --root /tmp/main-checkout
"""

import argparse
import contextlib
import http.client
import importlib.util
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MB = 1000 * 1000
RATE, CHANNELS, SAMPLE_BYTES = 44100, 2, 2
UPLOAD_LIMIT_MB = 210  # MiB, as JAM_MAX_UPLOAD_MB: the 200 MB file fits, the 250 MB one does not
ASGI_APP = "jamwithme.asgi:application"


def server_commands(port: int) -> dict[str, list[str]]:
    py, host = sys.executable, "127.0.0.1"
    return {
        "daphne": [py, "-m", "daphne", "--bind", host, "--port", str(port), ASGI_APP],
        "uvicorn": [
            *(py, "-m", "uvicorn", "--host", host, "--port", str(port)),
            *("--ws", "websockets-sansio", "--lifespan", "off"),
            *("--timeout-graceful-shutdown", "10"),
            ASGI_APP,
        ],
        "hypercorn": [py, "-m", "hypercorn", "--bind", f"{host}:{port}", ASGI_APP],
        "granian": [
            *(py, "-m", "granian", "--interface", "asgi", "--host", host, "--port", str(port)),
            *("--workers", "1", ASGI_APP),
        ],
    }


CHOSEN = "uvicorn"  # what `manage.py serve` runs, with the same options


# --- test files --------------------------------------------------------------------------


def write_wav(path: Path, total_bytes: int, seed: int = 0) -> Path:
    """A valid 16-bit stereo WAV of about total_bytes: quiet noise, written in blocks."""
    frames = (total_bytes - 44) // (CHANNELS * SAMPLE_BYTES)
    data_bytes = frames * CHANNELS * SAMPLE_BYTES
    rng = np.random.default_rng(seed)
    with path.open("wb") as out:
        out.write(b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE")
        out.write(
            b"fmt "
            + struct.pack(
                "<IHHIIHH",
                16,
                1,
                CHANNELS,
                RATE,
                RATE * CHANNELS * SAMPLE_BYTES,
                CHANNELS * SAMPLE_BYTES,
                8 * SAMPLE_BYTES,
            )
        )
        out.write(b"data" + struct.pack("<I", data_bytes))
        left = frames
        while left:
            n = min(left, RATE * 10)
            noise = rng.normal(0, 3000, (n, CHANNELS)).clip(-32768, 32767)
            out.write(noise.astype("<i2").tobytes())
            left -= n
    return path


class Multipart:
    """A multipart/form-data body read from files on disk, so the client holds none of it."""

    BOUNDARY = "----jamwithme-bench"

    def __init__(self, title: str, files: list[Path]):
        self.pieces: list[bytes | Path] = [
            f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\n'.encode()
            + title.encode()
            + b"\r\n"
        ]
        for path in files:
            self.pieces.append(
                f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{path.name}"\r\nContent-Type: audio/wav\r\n\r\n'.encode()
            )
            self.pieces += [path, b"\r\n"]
        self.pieces.append(f"--{self.BOUNDARY}--\r\n".encode())
        self.content_type = f"multipart/form-data; boundary={self.BOUNDARY}"

    def __len__(self) -> int:
        return sum(p.stat().st_size if isinstance(p, Path) else len(p) for p in self.pieces)

    def chunks(self, size: int = 1024 * 1024):
        for piece in self.pieces:
            if isinstance(piece, bytes):
                yield piece
                continue
            with piece.open("rb") as handle:
                while data := handle.read(size):
                    yield data


# --- memory sampling ---------------------------------------------------------------------


def tree_rss(pid: int) -> int:
    """RSS in bytes of a process and its children (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def process_tree(pid: int) -> list[int]:
    """A process and its descendants, from /proc (the children of each of its threads)."""
    found, pids = [], [pid]
    while pids:
        current = pids.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    pids += [int(child) for child in (task / "children").read_text().split()]
    return found


class Peak:
    """Samples the server's RSS every 10 ms while a step runs."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        time.sleep(0.5)  # let the previous step's memory settle
        self.before = self.peak = tree_rss(self.pid)
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(0.01)

    def __exit__(self, *exc):
        time.sleep(0.2)
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, tree_rss(self.pid))


# --- an HTTP client that keeps cookies and survives a server that hangs up early ----------


class Client:
    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method, path, *, body=None, headers=None, chunked=False, read=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if isinstance(body, Multipart):
            headers["Content-Type"] = body.content_type
            if chunked:
                headers["Transfer-Encoding"] = "chunked"
            else:
                headers["Content-Length"] = str(len(body))
        elif body is not None:
            headers["Content-Length"] = str(len(body))
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        sent, hung_up = 0, False
        try:
            if isinstance(body, Multipart):
                for data in body.chunks():
                    if chunked:
                        conn.send(b"%x\r\n" % len(data) + data + b"\r\n")
                    else:
                        conn.send(data)
                    sent += len(data)
                if chunked:
                    conn.send(b"0\r\n\r\n")
            elif body is not None:
                conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            hung_up = True
        try:
            response = conn.getresponse()
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            conn.close()
            return {"status": "reset", "sent": sent, "hung_up": True, "body": b""}
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            self.cookies.update({k: m.value for k, m in cookie.items()})
        data, received = b"", 0
        try:
            if read == "count":
                while chunk := response.read(1024 * 1024):
                    received += len(chunk)
            else:
                data = response.read()
                received = len(data)
        except (ConnectionResetError, http.client.IncompleteRead):
            pass
        conn.close()
        return {
            "status": response.status,
            "headers": response.msg,
            "body": data,
            "received": received,
            "sent": sent,
            "hung_up": hung_up,
        }

    def form(self, path, fields):
        return self.request(
            "POST",
            path,
            body=urllib.parse.urlencode(fields).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": self.cookies.get("csrftoken", ""),
            },
        )


# --- the run -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def websocket_works(port: int, cookies: dict[str, str]) -> str:
    """Open /ws/notifications/ as the logged-in user: 'ok' when the server upgrades it."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        sock.sendall(
            (
                "GET /ws/notifications/ HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        reply = sock.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
    return "ok" if " 101 " in reply else reply


def run_server(name: str, root: Path, files: dict[str, Path], work: Path) -> list[tuple]:
    port = free_port()
    var = work / f"var-{name}"
    env = {
        **os.environ,
        "JAM_VAR_DIR": str(var),
        "MEDIA_ROOT": str(var / "media"),
        "JAM_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB),
        "JAM_MAX_DURATION_S": "3600",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME"):
        env.pop(key, None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=root, env=env, check=True)
    subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from django.contrib.auth.models import User; "
            "User.objects.create_user('bench', 'bench@example.com', 'bench-Password-42')",
        ],
        cwd=root,
        env=env,
        check=True,
    )
    log = (work / f"{name}.log").open("w")
    process = subprocess.Popen(
        server_commands(port)[name], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    rows = []
    try:
        wait_for(port, process)
        client = Client(port)
        client.request("GET", "/accounts/login/")
        login = client.form(
            "/accounts/login/", {"username": "bench", "password": "bench-Password-42"}
        )
        assert login["status"] == 302, f"login failed: {login['status']}"
        ws = websocket_works(port, client.cookies)
        upload_headers = {
            "Accept": "application/json",
            "X-CSRFToken": client.cookies["csrftoken"],
            "Referer": f"http://127.0.0.1:{port}/tracks/upload/",
        }

        def upload(label, body, chunked=False):
            with Peak(process.pid) as peak:
                started = time.monotonic()
                reply = client.request(
                    "POST", "/tracks/upload/", body=body, headers=upload_headers, chunked=chunked
                )
                seconds = time.monotonic() - started
            outcome = str(reply["status"])
            if reply["hung_up"]:
                outcome += f" (hung up after {reply['sent'] / MB:.0f} MB)"
            rows.append((name, label, peak.before, peak.peak, outcome, seconds))
            return reply

        big = files["200"]
        reply = upload("upload 200 MB", Multipart("Bench", [big]))
        track = json.loads(reply["body"]).get("redirect") if reply["status"] == 201 else None
        upload("refused 250 MB", Multipart("Too big", [files["250"]]))
        upload("refused 250 MB, chunked", Multipart("Too big", [files["250"]]), chunked=True)
        upload("3 x 100 MB parts", Multipart("Three", [files["100"]] * 3))
        if track is None:
            rows.append((name, "playback skipped: the upload failed", 0, 0, "", 0))
            return rows
        audio = f"{track}audio/original/"

        def play(label, headers=None):
            with Peak(process.pid) as peak:
                started = time.monotonic()
                reply = client.request("GET", audio, headers=headers, read="count")
                seconds = time.monotonic() - started
            outcome = f"{reply['status']}, {reply['received'] / MB:.1f} MB"
            rows.append((name, label, peak.before, peak.peak, outcome, seconds))

        play("GET original in full")
        size = big.stat().st_size
        for start in (0, size // 3, size // 2, size - 1_000_000):
            play(f"Range bytes={start}-", {"Range": f"bytes={start}-"})
        play("Range bytes=150000000-150000099", {"Range": "bytes=150000000-150000099"})
        rows.append((name, f"WebSocket /ws/notifications/: {ws}", 0, 0, "", 0))
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    return rows


def print_table(rows: list[tuple]) -> None:
    print(
        f"{'server':<10} {'step':<34} {'RSS before':>10} {'peak':>8} {'growth':>8}  "
        f"{'seconds':>7}  result"
    )
    for name, step, before, peak, outcome, seconds in rows:
        if not before:
            print(f"{name:<10} {step}")
            continue
        mib = 1024 * 1024
        print(
            f"{name:<10} {step:<34} {before / mib:>7.0f} MiB {peak / mib:>4.0f} MiB "
            f"{(peak - before) / mib:>4.0f} MiB  {seconds:>7.1f}  {outcome}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--servers",
        default=CHOSEN,
        help=f"comma-separated from {', '.join(server_commands(0))}, or 'all' "
        f"(default: {CHOSEN}, what `manage.py serve` runs)",
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    args = parser.parse_args()
    names = list(server_commands(0)) if args.servers == "all" else args.servers.split(",")
    with tempfile.TemporaryDirectory(prefix="jam-web-bench-") as tmp:
        work = Path(tmp)
        print("Writing test files…", file=sys.stderr)
        files = {
            "200": write_wav(work / "bench-200MB.wav", 200 * MB, seed=1),
            "250": write_wav(work / "bench-250MB.wav", 250 * MB, seed=2),
            "100": write_wav(work / "bench-100MB.wav", 100 * MB, seed=3),
        }
        rows = []
        for name in names:
            if importlib.util.find_spec(name) is None:
                rows.append((name, f"not installed (uv pip install {name})", 0, 0, "", 0))
                continue
            print(f"Measuring {name}…", file=sys.stderr)
            rows += run_server(name, args.root.resolve(), files, work)
        print(
            f"JAM_MAX_UPLOAD_MB={UPLOAD_LIMIT_MB}; 1 MB = 10^6 bytes; RSS of the server "
            "process and its children"
        )
        print_table(rows)


if __name__ == "__main__":
    main()
