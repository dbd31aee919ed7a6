"""How much temporary disk anonymous request bodies take on the real server.

Starts `manage.py serve --no-worker` on a socket bound here (as tests/browsing.py does),
with its own var dir and its own TMPDIR, then opens 10 connections at once, each POSTing a
200 MB multipart body to a route that does not exist (/no/such/url), with a made-up
`csrftoken` cookie (the worst case of issue 22: Django spools the body, then the CSRF check
parses it into a second file). While they run it samples the temporary disk the server
holds: the files under its TMPDIR plus the deleted-but-open ones its processes hold there
(Python's TemporaryFile is unlinked at once, so `du` alone would miss it), and prints the
peak with what each connection sent and got back. Figures are printed, never asserted.

    .venv/bin/python bench/anonymous_bodies.py            # before, then after, one run
    .venv/bin/python bench/anonymous_bodies.py --only after   # this code: the 1 MiB ceiling
    .venv/bin/python bench/anonymous_bodies.py --only before --root /work/main  # main's code

"before" is main's behaviour on this code: JAM_MAX_REQUEST_KB is set to the upload limit
plus the 1 MiB slack, the single limit main applied to every request. `--root` runs the
server from another checkout (with this interpreter), e.g. main itself.
"""

import argparse
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import machine  # noqa: E402

MB = 1000 * 1000
BOUNDARY = "----jamwithme-bench"
CHUNK = b"\x5a" * (1024 * 1024)


def descendants(pid: int) -> list[int]:
    """A process and all its children, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def temp_bytes(pid: int, tmpdir: Path) -> int:
    """Disk used under tmpdir: its files, and the deleted ones the server's processes hold."""
    seen: dict[tuple[int, int], int] = {}
    for proc in descendants(pid):
        fds = Path(f"/proc/{proc}/fd")
        try:
            entries = list(fds.iterdir())
        except OSError:
            continue
        for fd in entries:
            try:
                if not os.readlink(fd).startswith(str(tmpdir)):
                    continue
                stat = os.stat(fd)
            except OSError:
                continue
            seen[(stat.st_dev, stat.st_ino)] = stat.st_blocks * 512
    for path in tmpdir.rglob("*"):
        try:
            stat = path.lstat()
        except OSError:
            continue
        if path.is_file():
            seen[(stat.st_dev, stat.st_ino)] = stat.st_blocks * 512
    return sum(seen.values())


def head(path: str, port: int, length: int, cookie: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        f"Content-Length: {length}",
        "Accept: text/html",
    ]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def body_parts(size: int) -> tuple[bytes, bytes, int]:
    start = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nx\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    end = f"\r\n--{BOUNDARY}--\r\n".encode()
    return start, end, len(start) + size + len(end)


def send_one(port: int, path: str, size: int, cookie: str, result: dict) -> None:
    start, end, length = body_parts(size)
    sent = 0
    began = time.monotonic()
    status = "no answer"
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(300)
        try:
            conn.sendall(head(path, port, length, cookie) + start)
            left = size
            while left:
                if select.select([conn], [], [], 0)[0]:  # answered early: stop sending
                    answer = conn.recv(200)
                    break
                piece = CHUNK[: min(len(CHUNK), left)]
                conn.sendall(piece)
                sent += len(piece)
                left -= len(piece)
            else:
                conn.sendall(end)
        except OSError as exc:  # the server answered and closed: the rest is refused
            status = f"closed while sending ({exc.__class__.__name__})"
        try:
            answer = answer or conn.recv(200)
        except OSError as exc:
            status = f"{status}; no answer ({exc.__class__.__name__})"
        if answer:
            status = answer.split(b"\r\n", 1)[0].decode()
    result.update(status=status, sent=sent, seconds=time.monotonic() - began)


def run(args, *, before: bool) -> dict:
    root = Path(args.root).resolve() if args.root else ROOT
    with tempfile.TemporaryDirectory(prefix="jam-bodies-") as scratch:
        scratch = Path(scratch)
        tmpdir = scratch / "tmp"
        tmpdir.mkdir()
        env = {
            **os.environ,
            "JAM_VAR_DIR": str(scratch / "var"),
            "DEBUG": "false",
            "TMPDIR": str(tmpdir),
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret"),
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        if before:
            upload_mb = int(env.get("JAM_MAX_UPLOAD_MB") or 200)
            env["JAM_MAX_REQUEST_KB"] = str(upload_mb * 1024 + 1024)
        listening = socket.socket()
        listening.bind(("127.0.0.1", 0))
        listening.set_inheritable(True)
        port = listening.getsockname()[1]
        log = (scratch / "serve.log").open("w")
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--no-worker", "--fd", str(listening.fileno())],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(listening.fileno(),),
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        sys.exit("serve did not start:\n" + (scratch / "serve.log").read_text())
                    time.sleep(0.3)

            peak, samples, stop = [0], [], threading.Event()

            def sample():
                while not stop.is_set():
                    used = temp_bytes(server.pid, tmpdir)
                    samples.append(used)
                    peak[0] = max(peak[0], used)
                    stop.wait(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            results = [{} for _ in range(args.connections)]
            cookie = "" if args.no_cookie else "csrftoken=" + "c" * 32
            began = time.monotonic()
            clients = [
                threading.Thread(
                    target=send_one, args=(port, args.path, args.mb * MB, cookie, results[i])
                )
                for i in range(args.connections)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            elapsed = time.monotonic() - began
            stop.set()
            sampler.join()
            settled = temp_bytes(server.pid, tmpdir)
        finally:
            server.send_signal(2)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
            listening.close()

    label = "before (the ceiling raised to main's one limit)" if before else "after (this code)"
    if args.root:
        label = f"{'before' if before else 'after'}: code at {root}"
    print(
        f"{label}: {args.connections} anonymous connections x {args.mb} MB multipart to "
        f"{args.path}{' with a made-up csrftoken' if cookie else ''}"
    )
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    sent = sum(r["sent"] for r in results)
    print(f"  answers: {statuses}")
    print(f"  body bytes the clients got to send: {sent / MB:,.1f} MB in {elapsed:.1f} s")
    print(f"  peak temporary disk held by the server: {peak[0] / MB:,.1f} MB")
    print(f"  temporary disk once all had answered: {settled / MB:,.1f} MB")
    return {"peak": peak[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("before", "after"), help="one of the two runs")
    parser.add_argument("--root", help="run the server from this checkout instead")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--mb", type=int, default=200, help="body size of each, in MB")
    parser.add_argument("--path", default="/no/such/url")
    parser.add_argument("--no-cookie", action="store_true", help="no made-up csrftoken")
    args = parser.parse_args()
    print(machine())
    peaks = {}
    for when in ("before", "after"):
        if args.only in (None, when):
            peaks[when] = run(args, before=when == "before")["peak"]
    if len(peaks) == 2:
        ratio = peaks["after"] / peaks["before"] if peaks["before"] else float("nan")
        print(f"peak temporary disk, after / before: {ratio:.4f}")


if __name__ == "__main__":
    main()
