"""Upload throughput: through the web node (the form post uvicorn streams to a temporary
file, the node probes it and stores it in the bucket) against straight to the bucket (the
web node signs; the client PUTs 8 MiB parts to the bucket; the node completes and probes
two range reads). One `manage.py serve --no-worker` on loopback with S3 storage, SQLite,
and moto's S3 server on loopback as the bucket.

moto on loopback is NOT a real bucket: it keeps objects in this process's memory, has no
network, no TLS and no disk in between, and is written in Python (it is slow per byte). The
figures compare the two paths on this machine; they say nothing of a real S3 or MinIO.

    .venv/bin/python bench/uploads.py [--files 5] [--mb 20]
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import numpy as np
import requests
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from machine import machine  # noqa: E402

from tests.ports import bound_socket  # noqa: E402

KEY, SECRET, REGION = "bench-key", "bench-secret", "us-east-1"
PARALLEL_PARTS = 3  # static/js/upload.js's
CSRF = "b" * 32  # an unmasked CSRF secret: the cookie and the header agree

SESSION = """
import django, sys
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
user = get_user_model().objects.create_user("bench", "bench@example.com", "x" * 20)
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def song(path: Path, megabytes: float) -> Path:
    """A 44.1 kHz stereo 16-bit WAV of about ``megabytes`` MB."""
    seconds = megabytes * 1_000_000 / (44100 * 2 * 2)
    rng = np.random.default_rng(7)
    data = (0.1 * rng.standard_normal((int(seconds * 44100), 2))).astype(np.float32)
    sf.write(path, data, 44100, subtype="PCM_16")
    return path


def start_moto():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def start_app(var: Path, endpoint: str, bucket: str):
    env = {
        **os.environ,
        "JAM_VAR_DIR": str(var),
        "DEBUG": "false",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_ACCESS_KEY_ID": KEY,
        "AWS_S3_SECRET_ACCESS_KEY": SECRET,
        "JAM_USER_MAX_ACTIVE_JOBS": "1000",
        "JAM_USER_QUOTA_MB": "0",
        "DJANGO_SETTINGS_MODULE": "jamwithme.settings",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    listening = bound_socket()
    port = listening.getsockname()[1]
    log = (var / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-worker", "--fd", str(listening.fileno())],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        pass_fds=(listening.fileno(),),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(f"{url}/health/", timeout=2)
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "serve did not start:\n" + (var / "serve.log").read_text()
                ) from None
            time.sleep(0.3)
    session_key = subprocess.run(
        [sys.executable, "-c", SESSION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    return process, listening, url, session_key


def client(url: str, session_key: str) -> requests.Session:
    http = requests.Session()
    http.cookies.set("sessionid", session_key, domain="127.0.0.1")
    http.cookies.set("csrftoken", CSRF, domain="127.0.0.1")
    http.headers.update({"X-CSRFToken": CSRF, "Accept": "application/json"})
    return http


def through_node(url: str, session_key: str, path: Path) -> None:
    http = client(url, session_key)
    with open(path, "rb") as body:
        response = http.post(
            f"{url}/tracks/upload/",
            files={"file": (path.name, body, "audio/wav")},
            data={"upload_key": str(uuid.uuid4())},
            timeout=600,
        )
    assert response.status_code == 201, response.text


def straight_to_bucket(url: str, session_key: str, path: Path) -> None:
    http = client(url, session_key)
    key = str(uuid.uuid4())
    size = path.stat().st_size
    plan = http.post(
        f"{url}/tracks/upload/direct/",
        data=json.dumps({"upload_key": key, "filename": path.name, "size": size}),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert plan.status_code == 200, plan.text
    plan = plan.json()
    numbers = list(range(1, plan["part_count"] + 1))
    urls = http.post(
        f"{url}/tracks/upload/direct/{key}/sign/",
        data=json.dumps({"parts": numbers}),
        headers={"Content-Type": "application/json"},
        timeout=60,
    ).json()["urls"]
    each = plan["part_size"]

    def send(number: int) -> None:  # as static/js/upload.js: PARALLEL_PARTS at a time
        with open(path, "rb") as handle:
            handle.seek((number - 1) * each)
            part = handle.read(each)
        put = requests.put(  # no cookie of ours goes to the bucket
            urls[str(number)],
            data=part,
            headers={"Content-Type": "application/octet-stream"},
            timeout=600,
        )
        assert put.status_code == 200, put.text

    with ThreadPoolExecutor(PARALLEL_PARTS) as pool:
        list(pool.map(send, numbers))
    done = http.post(f"{url}/tracks/upload/direct/{key}/finish/", timeout=600)
    assert done.status_code == 201, done.text


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (the web node: serve
    and its uvicorn), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    total, family = 0.0, {root_pid}
    changed = True
    while changed:
        changed = False
        for pid, (parent, _) in stats.items():
            if parent in family and pid not in family:
                family.add(pid)
                changed = True
    for pid in family:
        total += stats.get(pid, (0, 0.0))[1]
    return total


def run(
    label, upload, url, session_key, songs, concurrent: bool, node_pid: int
) -> tuple[float, float]:
    node_cpu = cpu_seconds(node_pid)
    started = time.perf_counter()
    if concurrent:
        with ThreadPoolExecutor(len(songs)) as pool:
            list(pool.map(lambda path: upload(url, session_key, path), songs))
    else:
        for path in songs:
            upload(url, session_key, path)
    elapsed = time.perf_counter() - started
    node_cpu = cpu_seconds(node_pid) - node_cpu
    megabytes = sum(path.stat().st_size for path in songs) / 1e6
    how = "at once" if concurrent else "one by one"
    print(
        f"  {label:22s} {how:10s} {elapsed:6.2f} s  {megabytes / elapsed:6.1f} MB/s"
        f"  web node CPU {node_cpu:5.2f} s"
    )
    return elapsed, node_cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--mb", type=float, default=20)
    options = parser.parse_args()
    print(f"machine: {machine()}")
    print(
        "bucket: moto's S3 server on loopback -- NOT a real bucket (in memory, in Python, "
        "no network or TLS); compare the two paths here, not with a real S3"
    )
    moto, endpoint = start_moto()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    ).create_bucket(Bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="jam-bench-uploads-") as folder:
        folder = Path(folder)
        songs = [song(folder / f"song-{n}.wav", options.mb) for n in range(options.files)]
        size = songs[0].stat().st_size / 1e6
        print(f"{options.files} x {size:.1f} MB WAV, one user, plain http on loopback")
        process, listening, url, session_key = start_app(folder, endpoint, bucket)
        try:
            figures = {}
            for concurrent in (False, True):
                args = (url, session_key, songs, concurrent, process.pid)
                node = run("through the web node", through_node, *args)
                direct = run("straight to the bucket", straight_to_bucket, *args)
                figures[concurrent] = (node[0] / direct[0], direct[1] / node[1])
            for concurrent, (speed, cpu) in figures.items():
                how = "at once" if concurrent else "one by one"
                print(
                    f"straight to the bucket against through the node, {how}: "
                    f"{speed:.2f}x as fast, {cpu:.2f}x the web node's CPU"
                )
        finally:
            process.send_signal(2)
            process.wait(timeout=30)
            listening.close()
            moto.stop()


if __name__ == "__main__":
    main()
