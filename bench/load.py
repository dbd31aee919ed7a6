"""Load on one web node in the scale-out mode: the library page, 1,000 sockets, live pushes
and the memory of a big upload and of playing a big stem, against PostgreSQL and Redis.

Starts uvicorn as docs/deploy.md says, on a free loopback port, with `DATABASE_URL` naming a
database this script creates (and drops at the end), `REDIS_URL`, `SECRET_KEY`,
`DEBUG=false` and a temporary `MEDIA_ROOT`/`JAM_VAR_DIR`, then:

1. prepares data in a `manage.py shell` subprocess: N users with ~10 tracks each (one track
   separated for real with the test engine, the rest copies of its rows with hard-linked
   files; each user's last track is a job left "separating"), and a session for each user;
2. the library page: every user loops `GET /` for --duration seconds, all at once;
3. --sockets WebSockets to /ws/notifications/ (round-robin over the users' sessions, with the
   site's Origin), held for --hold seconds; then --pushes job updates, made by another
   process through the job state (`jobs.state.heartbeat` + `job_publish`, what a worker
   does on progress: over Redis), each timed from just before the row's update to the
   arrival at every socket of the job's owner (both processes read the same clock);
4. the web server's memory growth for a 200 MB upload and for playing a 200 MB stem in full
   and with Range seeks (bench/web_memory.py's helpers).

With --idle-baseline DIR, instead: the idle CPU of the web process holding --sockets idle
WebSockets (nothing sent for --hold seconds, after the sockets opened and settled), first
with the code in DIR (a checkout of main: `git worktree add --detach /tmp/main-before
main`), then with this checkout, in the same run, as a ratio. --embedded serves as
`scripts/run` does, without PostgreSQL and Redis (SQLite, the in-memory channel layer and
the row relay), where the sockets used to poll the job rows: the queries then run inside
the web process, and count in its CPU.

    .venv/bin/python bench/load.py --idle-baseline /tmp/main-before --embedded

Figures are printed beside their targets, never asserted. The client runs on the same
machine and takes CPU from the server: run it on a quiet machine.

    .venv/bin/python bench/load.py --quick    # 10 users, 100 sockets, 10 s: under a minute
    .venv/bin/python bench/load.py            # 50 users, 1,000 sockets, 60 s each

Needs PostgreSQL (a user that may create databases) and Redis: --pg and --redis-url.

Against a running deployment instead (nothing is started, created or dropped there):

    .venv/bin/python bench/load.py --url https://jam.example.org --accounts accounts.txt

``--accounts`` names a file of ``username:password`` lines, accounts that exist there (make
them for the run and delete them after); each signs in through the login form once. It then
runs steps 2 and 3 against that site — the library page (any library: only the status is
checked) and the sockets held — without the pushes (they need the database) or the memory
step (it needs the server's process), and without server CPU figures. Run it from another
machine than the web nodes, or it measures itself too. ``--insecure`` accepts a self-signed
certificate.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psycopg
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_memory
from machine import machine as machine_line
from web_memory import MB, Client, Multipart, Peak, free_port, wait_for, write_wav

ROOT = Path(__file__).resolve().parents[1]
PUSHER_ID = "jam-load-bench:0:pusher"  # a claim on another "host": never judged dead here
STEM = "instrumental"

# --- code run inside `manage.py shell -c` (Django set up, the server's environment) --------

SETUP = r"""
import json, os
from importlib import import_module
from pathlib import Path
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from django.utils.module_loading import import_string
from separation.models import SeparationJob
from tests.factories import make_track
from tracks.models import Asset, Track

User = get_user_model()
n, per = int(os.environ["LOAD_USERS"]), int(os.environ["LOAD_TRACKS"])
tmp, media = Path(os.environ["LOAD_TMP"]), Path(settings.MEDIA_ROOT)
password = make_password("load-Password-42")
users = User.objects.bulk_create(
    [User(username=f"load{i:04d}", email=f"load{i:04d}@example.com", password=password)
     for i in range(n + 1)]
)
uploader, users = users[-1], users[:-1]
template = make_track(owner=users[0], tmp_path=tmp, title="Song 0", separated=True)
assets = list(template.assets.all())
fields = ("size_bytes", "duration_s", "sample_rate", "channels", "container", "codec")
now = timezone.now()
tracks, jobs, rows = [], [], []
for user in users:
    count = per - (1 if user == users[0] else 0)
    for k in range(count):
        running = k == count - 1
        track = Track(owner=user, title=f"Song {k + 1}", original_filename=f"song-{k + 1}.wav",
                      **{f: getattr(template, f) for f in fields})
        tracks.append(track)
        jobs.append(SeparationJob(
            track=track, attempts=1, started_at=now, updated_at=now,
            **({"status": "running", "claimed_by": os.environ["LOAD_PUSHER_ID"],
                "heartbeat_at": now} if running else
               {"status": "done", "progress": 100, "finished_at": now})))
        for asset in assets:
            if running and asset.kind != Asset.Kind.ORIGINAL:
                continue
            name = asset.name.replace(str(template.id), str(track.id))
            (media / name).parent.mkdir(parents=True, exist_ok=True)
            os.link(media / asset.name, media / name)
            rows.append(Asset(track=track, kind=asset.kind, stem=asset.stem, name=name,
                              size_bytes=asset.size_bytes))
Track.objects.bulk_create(tracks)
SeparationJob.objects.bulk_create(jobs)
Asset.objects.bulk_create(rows)
Store = import_module(settings.SESSION_ENGINE).SessionStore
backend = next(b for b in settings.AUTHENTICATION_BACKENDS if hasattr(import_string(b), "get_user"))

def session(user):
    store = Store()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = backend  # what a login records (not Axes' checker)
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key

running = dict(SeparationJob.objects.filter(status="running").values_list("track__owner", "id"))
Path(os.environ["LOAD_OUT"]).write_text(json.dumps({
    "cookie": settings.SESSION_COOKIE_NAME,
    "tracks": Track.objects.count(),
    "users": [{"id": u.pk, "session": session(u), "job": running[u.pk]} for u in users],
    "uploader": session(uploader),
}))
"""

PUSH = r"""
import json, os, time
from pathlib import Path
from separation.events import job_publish
from jobs.state import heartbeat
from separation.models import SeparationJob

jobs, worker = json.loads(os.environ["LOAD_JOBS"]), os.environ["LOAD_PUSHER_ID"]
count, interval = int(os.environ["LOAD_PUSHES"]), float(os.environ["LOAD_INTERVAL"])
heartbeat(SeparationJob, pk=jobs[0], worker_id=worker, progress=0)  # warm the connections
job_publish(job_id=jobs[0])
time.sleep(0.5)
stamps = []
for i in range(count):
    job, progress = jobs[i % len(jobs)], (i // len(jobs)) % 98 + 1
    sent = time.time()
    heartbeat(SeparationJob, pk=job, worker_id=worker, progress=progress)
    job_publish(job_id=job)
    stamps.append([job, progress, sent])
    time.sleep(interval)
Path(os.environ["LOAD_OUT"]).write_text(json.dumps(stamps))
"""

# A 200 MB upload gets a stem: the uploaded file, hard-linked under a stem's name.
ADD_STEM = r"""
import os
from pathlib import Path
from django.conf import settings
from django.utils import timezone
from separation.models import SeparationJob
from tracks import files
from tracks.models import Asset, Track

track = Track.objects.get(id=os.environ["LOAD_TRACK"])
original = track.assets.get(kind=Asset.Kind.ORIGINAL)
name = files.stem_name(files.new_run_prefix(track.id), os.environ["LOAD_STEM"])
media = Path(settings.MEDIA_ROOT)
os.link(media / original.name, media / name)
Asset.objects.create(track=track, kind=Asset.Kind.STEM, stem=os.environ["LOAD_STEM"],
                     name=name, size_bytes=original.size_bytes)
now = timezone.now()
SeparationJob.objects.filter(track=track).update(
    status="done", progress=100, finished_at=now, updated_at=now)
"""


# --- processes, cleaned up whatever happens -----------------------------------------------


class Run:
    """Owns the database, the server and the helper processes of one run."""

    def __init__(self, args, work: Path, root: Path = ROOT):
        """``root``: the checkout whose code the server and the shells run."""
        self.args, self.work, self.root = args, work, root
        self.processes: list[subprocess.Popen] = []
        self.database_created = False
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/notifications/"
        self.ws_options: dict = {}
        self.verify = True
        self.expect = "Song 1"  # every user's library has it
        var = work / "var"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"{args.pg.rstrip('/')}/{args.db_name}",
            "REDIS_URL": args.redis_url,
            "SECRET_KEY": "load-bench-" + "x" * 50,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "JAM_VAR_DIR": str(var),
            "MEDIA_ROOT": str(var / "media"),
            "JAM_SCRATCH_DIR": str(work / "scratch"),
            "JAM_MAX_UPLOAD_MB": str(web_memory.UPLOAD_LIMIT_MB),
            "JAM_MAX_DURATION_S": "3600",
            "LOG_LEVEL": "WARNING",
            # The web process's connection pool, as docs/deploy.md's web process has it.
            "JAM_DB_POOL_SIZE": os.environ.get("JAM_DB_POOL_SIZE", "20"),
        }
        for key in ("CELERY_BROKER_URL", "AWS_STORAGE_BUCKET_NAME", "NOTIFICATIONS_RELAY_FROM_DB"):
            self.env.pop(key, None)
        if args.embedded:  # as `scripts/run`: SQLite, the in-memory layer and the row relay
            self.env.pop("REDIS_URL")
            self.env.pop("DATABASE_URL")  # var/db.sqlite3 in the run's folder
            self.env.pop("JAM_DB_POOL_SIZE")

    def admin(self):
        return psycopg.connect(f"{self.args.pg.rstrip('/')}/postgres", autocommit=True)

    def create_database(self):
        if self.args.embedded:
            return  # SQLite: migrate creates the file
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.args.db_name}"')
        self.database_created = True

    def drop_database(self):
        if not self.database_created:
            return
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.args.db_name}" WITH (FORCE)')
        self.database_created = False

    def spawn(self, command, **env) -> subprocess.Popen:
        log = (self.work / f"{len(self.processes)}.log").open("w")
        process = subprocess.Popen(
            command, cwd=self.root, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def shell(self, code: str, timeout: float = 600, **env) -> Path:
        """Run code in `manage.py shell -c`; returns the file it may write (LOAD_OUT)."""
        out = self.work / f"shell-{len(self.processes)}.json"
        process = self.spawn(
            [sys.executable, "manage.py", "shell", "-c", code], LOAD_OUT=str(out), **env
        )
        if process.wait(timeout=timeout) != 0:
            log = (self.work / f"{len(self.processes) - 1}.log").read_text()[-3000:]
            raise SystemExit(f"manage.py shell failed:\n{log}")
        return out

    def start_server(self) -> subprocess.Popen:
        command = web_memory.server_commands(self.port)["uvicorn"]
        if self.args.web_workers > 1:  # uvicorn's own: one process per worker, one port
            command[-1:-1] = ["--workers", str(self.args.web_workers)]
        self.server = self.spawn(command)
        self.server_log = self.work / f"{len(self.processes) - 1}.log"
        wait_for(self.port, self.server)
        return self.server

    def close(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.drop_database()


class Remote:
    """A deployment already running elsewhere (--url): nothing to start, create or drop."""

    def __init__(self, url: str, *, insecure: bool):
        import ssl

        self.origin = url.rstrip("/")
        scheme, _, rest = self.origin.partition("://")
        self.ws_url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/notifications/"
        self.verify = not insecure
        self.ws_options: dict = {}
        if insecure and scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            self.ws_options["ssl"] = context
        self.expect = ""  # any library will do

    async def sign_in(self, accounts: list[tuple[str, str]]) -> dict:
        """Each account signs in through the login form once: the setup the local run makes
        in its own database (users with their sessions), learnt from the site."""

        async def one(username: str, password: str) -> dict:
            async with httpx.AsyncClient(
                base_url=self.origin, timeout=30, verify=self.verify
            ) as client:
                await client.get("/accounts/login/")
                token = client.cookies.get("csrftoken", "")
                reply = await client.post(
                    "/accounts/login/",
                    data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                    headers={"Referer": f"{self.origin}/accounts/login/", "X-CSRFToken": token},
                    allow_redirects=False,  # httpx 0.19's name (the lock's)
                )
                session = client.cookies.get("sessionid")
                if reply.status_code != 302 or not session:
                    raise SystemExit(f"{username} could not sign in (HTTP {reply.status_code})")
                return {"id": username, "session": session, "job": None}

        users = await asyncio.gather(*(one(u, p) for u, p in accounts))
        return {"cookie": "sessionid", "tracks": "?", "users": list(users)}

    def close(self):
        pass


def read_accounts(path: str) -> list[tuple[str, str]]:
    accounts = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            username, _, password = line.strip().partition(":")
            accounts.append((username, password))
    if not accounts:
        raise SystemExit(f"{path} names no account (username:password lines)")
    return accounts


def main_remote(args) -> None:
    """The library page and the sockets, against a deployment elsewhere."""
    run = Remote(args.url, insecure=args.insecure)
    accounts = read_accounts(args.accounts)
    print(f"Signing in {len(accounts)} accounts at {run.origin}…", file=sys.stderr)
    setup = asyncio.run(run.sign_in(accounts))
    started_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    library = asyncio.run(
        library_load(run, setup["users"], setup["cookie"], args.duration, args.think)
    )
    saturation = None
    if args.saturation:
        saturation = asyncio.run(
            library_load(run, setup["users"], setup["cookie"], args.saturation, (0, 0))
        )
    push = asyncio.run(
        sockets_and_pushes(run, setup["users"], setup["cookie"], args.sockets, args.hold, 0, 0)
    )
    args.pushes = 0
    report(args, setup, library, saturation, push, None, started_load)
    print(
        f"Target: {run.origin} (a deployment elsewhere: server CPU, pushes and memory are not "
        "measured; the machine line is the client's)"
    )


# --- measurements --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its children (uvicorn's workers) have used so
    far (/proc/<pid>/stat)."""
    total = 0.0
    for current in web_memory.process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def server_cpu_seconds(run) -> float:
    """The web server's CPU time so far; NaN for a deployment elsewhere (--url)."""
    server = getattr(run, "server", None)
    return cpu_seconds(server.pid) if server is not None else float("nan")


def machine_busy_seconds() -> float:
    """CPU time all cores have spent on anything but idling and waiting, so far (/proc/stat)."""
    user, nice, system, _idle, _iowait, *rest = Path("/proc/stat").read_text().split()[1:9]
    busy = int(user) + int(nice) + int(system) + sum(int(x) for x in rest)
    return busy / os.sysconf("SC_CLK_TCK")


async def library_load(
    run: Run, users: list[dict], cookie: str, seconds: float, think: tuple[float, float]
) -> dict:
    """Every user loads their library, reads it for a random `think` time (seconds, uniform
    between the two bounds, as locust's `between`), and loads it again, for `seconds`. With
    no think time each user asks again as soon as the page arrives: the server's saturation
    throughput, where latency is only the queue of the other users' requests."""
    latencies: list[float] = []
    errors: defaultdict[str, int] = defaultdict(int)
    rng = random.Random(7)
    warmed, waiting = asyncio.Event(), [len(users)]

    async def user_loop(user):
        # Idle connections are let go before uvicorn's 5 s keep-alive closes them: else a
        # request sent as the server hangs up fails (RemoteProtocolError), as browsers avoid.
        async with httpx.AsyncClient(
            base_url=run.origin,
            cookies={cookie: user["session"]},
            timeout=30,
            limits=httpx.Limits(keepalive_expiry=4),
            verify=run.verify,
        ) as client:
            # Not measured: the server's first requests (imports, templates, the pool).
            await client.get("/")
            waiting[0] -= 1
            if not waiting[0]:
                warmed.set()
            await warmed.wait()
            # Users arrive spread over one think time, not all in the same millisecond.
            await asyncio.sleep(rng.uniform(0, think[1]))
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    reply = await client.get("/")
                    elapsed = time.perf_counter() - started
                    if reply.status_code != 200 or run.expect not in reply.text:
                        errors[f"HTTP {reply.status_code}"] += 1
                    else:
                        latencies.append(elapsed)
                except httpx.HTTPError as error:
                    errors[type(error).__name__] += 1
                await asyncio.sleep(rng.uniform(*think))

    deadline = float("inf")

    cpu = {}

    async def start_clock():
        nonlocal deadline
        await warmed.wait()
        deadline = time.monotonic() + seconds
        cpu.update(server=server_cpu_seconds(run), client=time.process_time())
        cpu["machine"] = machine_busy_seconds()

    await asyncio.gather(start_clock(), *(user_loop(u) for u in users))
    return {
        "latencies": latencies,
        "errors": dict(errors),
        "seconds": seconds,
        "server_cpu_s": server_cpu_seconds(run) - cpu["server"],
        "client_cpu_s": time.process_time() - cpu["client"],
        "machine_cpu_s": machine_busy_seconds() - cpu["machine"],
    }


async def sockets_and_pushes(run: Run, users, cookie, count, hold, pushes, interval) -> dict:
    received: defaultdict[tuple, list[float]] = defaultdict(list)
    sockets, failed, dropped = [], defaultdict(int), [0]
    per_user: defaultdict[int, int] = defaultdict(int)
    gate = asyncio.Semaphore(50)
    url = run.ws_url

    async def listen(ws):
        try:
            async for message in ws:
                now = time.time()
                event = json.loads(message)
                if "job_id" in event:
                    received[(event["job_id"], event["progress"])].append(now)
        except websockets.ConnectionClosed:
            pass
        dropped[0] += 1

    async def open_one(i):
        user = users[i % len(users)]
        async with gate:
            try:
                ws = await websockets.connect(
                    url,
                    origin=run.origin,
                    additional_headers={"Cookie": f"{cookie}={user['session']}"},
                    open_timeout=30,
                    max_queue=None,
                    **run.ws_options,
                )
            except Exception as error:
                failed[type(error).__name__] += 1
                return
        per_user[user.get("job")] += 1
        sockets.append((ws, asyncio.create_task(listen(ws))))

    started = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(count)))
    opened_in = time.monotonic() - started
    await asyncio.sleep(hold)
    open_after_hold = len(sockets) - dropped[0]

    if not pushes:  # a deployment elsewhere (--url): its database is not ours to write
        for ws, task in sockets:
            await ws.close()
            task.cancel()
        return {
            "opened": len(sockets),
            "failed": dict(failed),
            "opened_in": opened_in,
            "open_after_hold": open_after_hold,
            "pushes": 0,
            "expected": 0,
            "missing": 0,
            "latencies": [],
        }
    jobs = [u["job"] for u in users]
    out = await asyncio.to_thread(
        run.shell,
        PUSH,
        LOAD_JOBS=json.dumps(jobs),
        LOAD_PUSHER_ID=PUSHER_ID,
        LOAD_PUSHES=str(pushes),
        LOAD_INTERVAL=str(interval),
    )
    stamps = json.loads(out.read_text())
    wanted = {(job, progress): per_user[job] for job, progress, _ in stamps}
    deadline = time.monotonic() + 10  # the last pushes' stragglers, 10 s at most
    while time.monotonic() < deadline and any(
        len(received.get(key, ())) < n for key, n in wanted.items()
    ):
        await asyncio.sleep(0.1)
    latencies, expected, missing = [], 0, 0
    for job, progress, sent in stamps:
        arrivals = received.get((job, progress), [])
        expected += per_user[job]
        missing += max(0, per_user[job] - len(arrivals))
        latencies += [arrival - sent for arrival in arrivals]
    for ws, task in sockets:
        await ws.close()
        task.cancel()
    return {
        "opened": len(sockets),
        "failed": dict(failed),
        "opened_in": opened_in,
        "open_after_hold": open_after_hold,
        "pushes": len(stamps),
        "expected": expected,
        "missing": missing,
        "latencies": latencies,
    }


async def idle_sockets(run: Run, users, cookie, count: int, settle: float, hold: float) -> dict:
    """Open ``count`` sockets (round-robin over the users' sessions), let them settle, then
    measure the server's CPU while nothing happens for ``hold`` seconds."""
    url = f"ws://127.0.0.1:{run.port}/ws/notifications/"
    sockets, failed, gate = [], defaultdict(int), asyncio.Semaphore(50)

    async def open_one(i):
        async with gate:
            try:
                sockets.append(
                    await websockets.connect(
                        url,
                        origin=run.origin,
                        additional_headers={
                            "Cookie": f"{cookie}={users[i % len(users)]['session']}"
                        },
                        open_timeout=30,
                    )
                )
            except Exception as error:
                failed[type(error).__name__] += 1

    await asyncio.gather(*(open_one(i) for i in range(count)))
    await asyncio.sleep(settle)
    before, started = cpu_seconds(run.server.pid), time.monotonic()
    await asyncio.sleep(hold)
    used, elapsed = cpu_seconds(run.server.pid) - before, time.monotonic() - started
    still_open = sum(1 for ws in sockets if ws.close_code is None)
    for ws in sockets:
        await ws.close()
    return {
        "opened": len(sockets),
        "failed": dict(failed),
        "open_after": still_open,
        "core": used / elapsed,
    }


def idle_run(args, work: Path, root: Path) -> dict:
    """One server on ``root``'s code, its database made and dropped: the idle figure."""
    run = Run(args, work, root)
    try:
        run.create_database()
        run.shell("from django.core.management import call_command; call_command('migrate')")
        (work / "media-src").mkdir()
        setup = json.loads(
            run.shell(
                SETUP,
                LOAD_USERS=str(args.users),
                LOAD_TRACKS=str(args.tracks),
                LOAD_TMP=str(work / "media-src"),
                LOAD_PUSHER_ID=PUSHER_ID,
            ).read_text()
        )
        run.start_server()
        return asyncio.run(
            idle_sockets(run, setup["users"], setup["cookie"], args.sockets, 5, args.hold)
        )
    finally:
        run.close()


def idle_comparison(args, say) -> None:
    baseline_root = Path(args.idle_baseline).resolve()
    results = {}
    for label, root in (("before", baseline_root), ("after", ROOT)):
        say(f"Idle: {args.sockets} sockets on {root} ({label}), {args.hold:g} s…")
        with tempfile.TemporaryDirectory(prefix="jam-load-") as tmp:
            results[label] = idle_run(args, Path(tmp), root)
    mode = (
        "embedded (SQLite, in-memory layer, row relay)"
        if args.embedded
        else "scale-out (PostgreSQL, Redis)"
    )
    print()
    print(f"Machine: {machine_line()}")
    print(
        f"Idle sockets: {args.sockets} WebSockets over {args.users} users, held {args.hold:g} s "
        f"with nothing sent; uvicorn, {mode}"
    )
    print(f"{'code':<44}{'open / asked':<16}{'still open':<12}web process CPU")
    for label, root in (("before", baseline_root), ("after", ROOT)):
        result = results[label]
        print(
            f"{label + ': ' + str(root):<44}{result['opened']:>5} / {args.sockets:<8}"
            f"{result['open_after']:<12}{result['core']:.1%} of a core"
            + (f"  (failed: {result['failed']})" if result["failed"] else "")
        )
    ratio = results["after"]["core"] / results["before"]["core"] if results["before"]["core"] else 0
    print(f"after / before: {ratio:.3f}; target: after under 5% of a core")


def memory(run: Run, session: str, cookie: str, upload_mb: int, big: Path) -> dict:
    client = Client(run.port)
    client.cookies[cookie] = session
    client.request("GET", "/tracks/upload/")
    headers = {
        "Accept": "application/json",
        "X-CSRFToken": client.cookies.get("csrftoken", ""),
        "Referer": f"{run.origin}/tracks/upload/",
    }
    with Peak(run.server.pid) as upload:
        reply = client.request(
            "POST", "/tracks/upload/", body=Multipart("Big", [big]), headers=headers
        )
    big.unlink()
    result = {"upload": upload, "upload_status": reply["status"], "plays": []}
    if reply["status"] != 201:
        return result
    track_url = json.loads(reply["body"])["redirect"]
    track_id = track_url.rstrip("/").rsplit("/", 1)[-1]
    run.shell(ADD_STEM, LOAD_TRACK=track_id, LOAD_STEM=STEM)
    audio = f"{track_url}audio/{STEM}/"
    size = upload_mb * MB
    steps = [None, *(f"bytes={s}-" for s in (0, size // 3, size // 2, size - 1_000_000))]
    steps.append("bytes=150000000-150000099" if size > 150_000_100 else "bytes=1000-1099")
    for step in steps:
        with Peak(run.server.pid) as play:
            got = client.request(
                "GET", audio, headers={"Range": step} if step else None, read="count"
            )
        result["plays"].append((step or "in full", play, got["status"], got["received"]))
    return result


# --- the report ----------------------------------------------------------------------------


def machine() -> str:
    ram = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = int(line.split()[1]) * 1024
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {ram / 2**30:.1f} GiB RAM, load average {load} at start"


def errors_text(errors: dict) -> str:
    """How many, and of which kinds ("2 (HTTP 502: 1, ReadTimeout: 1)")."""
    total = sum(errors.values())
    kinds = ", ".join(f"{kind}: {count}" for kind, count in sorted(errors.items()))
    return f"{total} ({kinds})" if total else "0"


def report(args, setup, library, saturation, push, mem, started_load: str) -> None:
    ms = 1000
    mib = 2**20
    lat = library["latencies"]
    rate = len(lat) / library["seconds"]
    rows = [
        ("library GET /: requests (ok)", f"{len(lat)} ({rate:.0f}/s)", ""),
        ("library GET /: p50", f"{percentile(lat, 50) * ms:.1f} ms", ""),
        ("library GET /: p95", f"{percentile(lat, 95) * ms:.1f} ms", "<= 50 ms"),
        ("library GET /: p99", f"{percentile(lat, 99) * ms:.1f} ms", ""),
        ("library GET /: errors", errors_text(library["errors"]), "0"),
        (
            "library GET /: server CPU per page",
            f"{library['server_cpu_s'] / max(1, len(lat)) * ms:.1f} ms",
            "",
        ),
        (
            "library GET /: client CPU per page",
            f"{library['client_cpu_s'] / max(1, len(lat)) * ms:.1f} ms",
            "",
        ),
        (
            "library GET /: machine busy",
            f"{library['machine_cpu_s'] / library['seconds'] / (os.cpu_count() or 1):.0%}"
            f" of {os.cpu_count()} cores",
            "",
        ),
    ]
    if saturation is not None:
        sat = saturation["latencies"]
        rows += [
            (
                "back to back: requests (ok)",
                f"{len(sat)} ({len(sat) / saturation['seconds']:.0f}/s)",
                "",
            ),
            (
                "back to back: p50 / p95",
                f"{percentile(sat, 50) * ms:.0f} / {percentile(sat, 95) * ms:.0f} ms",
                "",
            ),
            ("back to back: errors", errors_text(saturation["errors"]), "0"),
        ]
    rows += [
        (
            "sockets open / asked",
            f"{push['opened']} / {args.sockets} (in {push['opened_in']:.1f} s)",
            "all",
        ),
        (f"sockets still open after {args.hold:g} s", str(push["open_after_hold"]), "all"),
        (
            "pushes / deliveries (missing)",
            f"{push['pushes']} / {len(push['latencies'])} ({push['missing']})",
            "0 missing",
        ),
        ("push latency p50", f"{percentile(push['latencies'], 50) * ms:.1f} ms", ""),
        ("push latency p95", f"{percentile(push['latencies'], 95) * ms:.1f} ms", "<= 200 ms"),
        ("push latency p99", f"{percentile(push['latencies'], 99) * ms:.1f} ms", ""),
    ]
    if mem is not None:
        up = mem["upload"]
        rows.append(
            (
                f"upload {args.upload_mb} MB: RSS growth (HTTP {mem['upload_status']})",
                f"{(up.peak - up.before) / mib:.0f} MiB (from {up.before / mib:.0f})",
                "<= 50 MB",
            )
        )
        for step, play, status, received in mem["plays"]:
            rows.append(
                (
                    f"stem {step}: RSS growth ({status}, {received / MB:.1f} MB)",
                    f"{(play.peak - play.before) / mib:.0f} MiB",
                    "<= 50 MB",
                )
            )
    print()
    print(f"Machine: {machine()}; load average {started_load} when the load started")
    print(
        f"Data: {len(setup['users'])} users, {setup['tracks']} tracks; {args.sockets} sockets "
        f"round-robin over the users; library for {args.duration:g} s, each user reading "
        f"each page {args.think[0]:g}-{args.think[1]:g} s, then {args.saturation:g} s back to "
        f"back; {args.pushes} pushes "
        + (
            f"every {args.push_interval:g} s. Server: uvicorn (docs/deploy.md)"
            f"{f' --workers {args.web_workers}' if args.web_workers > 1 else ''}, "
            "PostgreSQL, Redis."
            if not args.url
            else f"Server: {args.url}."
        )
    )
    if push["failed"]:
        print(f"Sockets that did not open: {push['failed']}")
    width = max(len(r[0]) for r in rows) + 2
    print(f"{'figure':<{width}}{'measured':<28}target")
    for name, value, target in rows:
        print(f"{name:<{width}}{value:<28}{target}")


# --- the run -------------------------------------------------------------------------------


def raise_open_files(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))  # children inherit it
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="logged-in users (default 50)")
    parser.add_argument("--tracks", type=int, default=10, help="tracks per user (default 10)")
    parser.add_argument("--sockets", type=int, default=1000, help="WebSockets (default 1000)")
    parser.add_argument(
        "--duration", type=float, default=60, help="seconds of library load (default 60)"
    )
    parser.add_argument(
        "--hold", type=float, default=60, help="seconds the sockets are held (default 60)"
    )
    parser.add_argument(
        "--think",
        default="1-5",
        help="seconds each user reads the page before loading it again, uniform (default 1-5)",
    )
    parser.add_argument(
        "--saturation",
        type=float,
        default=20,
        help="then seconds of the same users with no think time: the most the server serves",
    )
    parser.add_argument("--pushes", type=int, default=200, help="job updates (default 200)")
    parser.add_argument("--push-interval", type=float, default=0.05, help="seconds between")
    parser.add_argument("--upload-mb", type=int, default=200, help="upload and stem size")
    parser.add_argument("--no-memory", action="store_true", help="skip the upload/playback")
    parser.add_argument(
        "--quick", action="store_true", help="10 users, 100 sockets, 10 s, 50 pushes 0.02 s apart"
    )
    parser.add_argument(
        "--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL, no database"
    )
    parser.add_argument(
        "--db-name",
        default=f"jamwithme_load_{os.getpid()}",
        help="the database created and dropped (must contain 'load')",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument(
        "--web-workers",
        type=int,
        default=1,
        help="uvicorn --workers: web processes on the one port (default 1, as the documented "
        "command; docs/deploy.md: one per core)",
    )
    parser.add_argument(
        "--idle-baseline",
        metavar="DIR",
        help="only the idle figure: --sockets idle sockets held --hold s, with DIR's code "
        "(a checkout of main) then this checkout's",
    )
    parser.add_argument(
        "--embedded",
        action="store_true",
        help="serve without Redis (in-memory channel layer and the row relay)",
    )
    parser.add_argument(
        "--url",
        help="a running deployment (https://host) instead of a server started here; "
        "needs --accounts",
    )
    parser.add_argument("--accounts", help="with --url: a file of username:password lines")
    parser.add_argument(
        "--insecure", action="store_true", help="with --url: accept any TLS certificate"
    )
    args = parser.parse_args()
    if args.url and not args.accounts:
        parser.error("--url needs --accounts (username:password lines of accounts there)")
    if args.quick:
        args.users, args.sockets, args.duration, args.hold, args.pushes = 10, 100, 10, 10, 50
        args.push_interval, args.saturation = 0.02, 5
    try:
        low, high = (float(x) for x in args.think.split("-"))
        assert 0 <= low <= high
    except (ValueError, AssertionError):
        parser.error("--think takes LOW-HIGH seconds, e.g. 1-5 (0-0: none)")
    args.think = (low, high)
    if "load" not in args.db_name or not args.db_name.replace("_", "").isalnum():
        parser.error("--db-name must contain 'load' (letters, digits and _): it is dropped")
    limit = raise_open_files(args.sockets + 1024)
    if limit < args.sockets + 200:
        print(f"warning: open files limited to {limit}", file=sys.stderr)

    # SIGTERM cleans up as Ctrl-C does.
    def interrupted(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    if args.url:
        main_remote(args)
        return

    began = time.monotonic()

    def say(text):
        print(f"[{time.monotonic() - began:5.1f} s] {text}", file=sys.stderr, flush=True)

    if args.idle_baseline:
        try:
            idle_comparison(args, say)
        except KeyboardInterrupt:
            say("Interrupted: cleaning up…")
            raise SystemExit(130) from None
        return

    with tempfile.TemporaryDirectory(prefix="jam-load-") as tmp:
        run = Run(args, Path(tmp))
        big = run.work / "load-upload.wav"
        writer = threading.Thread(  # written while the database is prepared
            target=write_wav, args=(big, args.upload_mb * MB), kwargs={"seed": 1}, daemon=True
        )
        if not args.no_memory:
            writer.start()
        try:
            say(f"Creating database {args.db_name}, migrating…")
            run.create_database()
            run.shell("from django.core.management import call_command; call_command('migrate')")
            say(f"Creating {args.users} users x {args.tracks} tracks and their sessions…")
            (run.work / "media-src").mkdir()
            setup = json.loads(
                run.shell(
                    SETUP,
                    LOAD_USERS=str(args.users),
                    LOAD_TRACKS=str(args.tracks),
                    LOAD_TMP=str(run.work / "media-src"),
                    LOAD_PUSHER_ID=PUSHER_ID,
                ).read_text()
            )
            if writer.is_alive():  # the upload file: written before the load, not during it
                writer.join()
            say(f"Starting uvicorn on {run.origin} (open files: {limit})…")
            run.start_server()
            started_load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            say(
                f"Library page: {args.users} users for {args.duration:g} s, reading each page "
                f"{args.think[0]:g}-{args.think[1]:g} s…"
            )
            library = asyncio.run(
                library_load(run, setup["users"], setup["cookie"], args.duration, args.think)
            )
            saturation = None
            if args.saturation:
                say(f"Library page: the same users, back to back, for {args.saturation:g} s…")
                saturation = asyncio.run(
                    library_load(run, setup["users"], setup["cookie"], args.saturation, (0, 0))
                )
            say(f"{args.sockets} sockets held {args.hold:g} s, then {args.pushes} pushes…")
            push = asyncio.run(
                sockets_and_pushes(
                    run,
                    setup["users"],
                    setup["cookie"],
                    args.sockets,
                    args.hold,
                    args.pushes,
                    args.push_interval,
                )
            )
            mem = None
            if not args.no_memory:
                say(f"Memory: {args.upload_mb} MB upload, then playing it as a stem…")
                mem = memory(run, setup["uploader"], setup["cookie"], args.upload_mb, big)
            report(args, setup, library, saturation, push, mem, started_load)
            if library["errors"] or push["failed"] or (mem and mem["upload_status"] != 201):
                say("The server's log ends with:\n" + run.server_log.read_text()[-4000:])
        except KeyboardInterrupt:
            say("Interrupted: cleaning up…")
            raise SystemExit(130) from None
        finally:
            run.close()


if __name__ == "__main__":
    main()
