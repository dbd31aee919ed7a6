"""Where the engine's time goes: a warm song stage by stage, and a cold `manage.py separate`.

    .venv/bin/python bench/profile_engine.py                 # warm 5-minute song + cold 16 s clip
    .venv/bin/python bench/profile_engine.py --minutes 1 --repeat 1
    .venv/bin/python bench/profile_engine.py --no-warm --no-cold --split 2   # workers x threads

Warm: the engine is loaded and warmed on a short clip, then separates a song built from the
dev mixtures (``--repeat`` times; the fastest run is shown). The table times each stage by
wrapping the engine's functions; the network runs on the calling thread while profiling (not
overlapped with the rest, as it is in normal runs), so each stage's process CPU time is its
own, worker threads included. "overlapped" is the same song run normally, unwrapped.

Cold: a fresh process does what `manage.py separate` does, step by step (interpreter, imports,
Django set-up, weight checks, session creation, the separation), and the real command is then
timed from outside. Split (``--split``): every way of dividing the cores into worker
processes x network threads, each worker a warm engine separating songs back to back, in
songs per hour. Prints figures; asserts nothing. On a busy machine trust CPU over wall.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import Future
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"
CLIP = DATA / "dev1_vocadito10_loops" / "mix.flac"


class Stages:
    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._depth = 0

    @contextlib.contextmanager
    def stage(self, name: str):
        if self._depth:  # nested stage: the outer one keeps the time
            yield
            return
        self._depth += 1
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] += time.perf_counter() - wall
            self.cpu[name] += time.process_time() - cpu
            self.calls[name] += 1
            self._depth -= 1

    def wrap(self, owner, attribute: str, name: str, *, generator: bool = False) -> None:
        original = getattr(owner, attribute)
        stages = self

        if generator:

            def wrapped(*args, **kwargs):
                iterator = iter(original(*args, **kwargs))
                while True:
                    with stages.stage(name):
                        item = next(iterator, StopIteration)
                    if item is StopIteration:
                        return
                    yield item

        else:

            def wrapped(*args, **kwargs):
                with stages.stage(name):
                    return original(*args, **kwargs)

        if isinstance(owner, type) and isinstance(owner.__dict__.get(attribute), staticmethod):
            wrapped = staticmethod(wrapped)
        setattr(owner, attribute, wrapped)


class _InlineExecutor:
    """Runs submitted work at once on the calling thread (profiling only)."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def build_song(folder: Path, seconds: float) -> Path:
    import numpy as np
    import soundfile as sf

    parts = [sf.read(DATA / name / "mix.flac", dtype="int16")[0] for name in
             ("dev1_vocadito10_loops", "dev2_festival_sectoid")]  # fmt: skip
    frames = int(seconds * 44100)
    song = np.concatenate(parts * (-(-frames // sum(len(p) for p in parts))))[:frames]
    path = folder / f"song{seconds:g}s.wav"
    sf.write(path, song, 44100, subtype="PCM_16")
    return path


def instrument(stages: Stages) -> None:
    from engine import audio, dsp, model, separator

    stages.wrap(audio, "read_header", "header")
    stages.wrap(audio, "read_blocks", "decode", generator=True)
    stages.wrap(separator._Resampler, "push", "resample")
    stages.wrap(dsp.StreamingSeparator, "_analyse", "STFT")
    stages.wrap(model.UNetModel, "predict", "networks (ONNX Runtime)")
    stages.wrap(dsp, "ratio_masks", "masks")
    stages.wrap(dsp, "extend_masks", "masks")
    if hasattr(dsp, "accompaniment_mask"):
        stages.wrap(dsp, "accompaniment_mask", "masks")
    stages.wrap(dsp.StreamingSeparator, "_overlap_add", "iSTFT")
    stages.wrap(audio.PeakTrackingWriter, "write", "write float temp")
    if hasattr(audio.PeakTrackingWriter, "finalize"):
        stages.wrap(audio.PeakTrackingWriter, "finalize", "encode WAV")
    else:
        stages.wrap(audio, "finalize_wav", "encode WAV")
    stages.wrap(audio, "waveform_peaks", "waveform peaks (3 files)")
    dsp.ThreadPoolExecutor = _InlineExecutor  # the network on the calling thread


def warm_profile(minutes: float, repeat: int) -> None:
    from engine import audio, get_engine

    with tempfile.TemporaryDirectory(prefix="jamwithme-profile-") as tmp:
        tmp = Path(tmp)
        song = build_song(tmp, minutes * 60)
        engine = get_engine()
        engine.separate_file(CLIP, tmp / "warmup")
        best = None
        for _ in range(repeat):
            wall, cpu = time.perf_counter(), time.process_time()
            engine.separate_file(song, tmp / "plain")
            run = (time.perf_counter() - wall, time.process_time() - cpu)
            best = run if best is None or run[0] < best[0] else best
        stages = Stages()
        instrument(stages)
        wall, cpu = time.perf_counter(), time.process_time()
        result = engine.separate_file(song, tmp / "profiled")
        for part in (song, *result.stems.values()):
            audio.waveform_peaks(part)
        total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    seconds = minutes * 60
    model = engine.model
    split = f"{getattr(model, 'streams', 1)} x {getattr(model, 'threads_per_stream', 'all')}"
    print(f"== warm engine, {seconds:g} s song (network streams x threads: {split}) ==")
    print(
        f"separate_file, overlapped as in normal runs: {best[0]:.2f} s wall, {best[1]:.2f} s "
        f"CPU (best of {repeat}); {best[0] / seconds * 60:.2f} s per minute of audio"
    )
    print(f"{'stage (serial, profiled)':<28} {'wall s':>7} {'CPU s':>7} {'CPU %':>6} {'calls':>6}")
    for name in sorted(stages.cpu, key=lambda n: -stages.cpu[n]):
        print(f"{name:<28} {stages.wall[name]:7.2f} {stages.cpu[name]:7.2f} "
              f"{100 * stages.cpu[name] / total_cpu:6.1f} {stages.calls[name]:6d}")  # fmt: skip
    other_wall = total_wall - sum(stages.wall.values())
    other_cpu = total_cpu - sum(stages.cpu.values())
    print(f"{'everything else':<28} {other_wall:7.2f} {other_cpu:7.2f} "
          f"{100 * other_cpu / total_cpu:6.1f}")  # fmt: skip
    print(f"{'total (serial + peaks)':<28} {total_wall:7.2f} {total_cpu:7.2f} {100.0:6.1f}")


COLD_STEPS = """
import json, os, sys, time
marks = [("interpreter start", float(sys.argv[1]), 0.0)]
def mark(name):
    marks.append((name, time.time(), time.process_time()))
mark("interpreter up")
import numpy, soundfile
mark("import numpy, soundfile")
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")
import django
from django.conf import settings
django.setup()
mark("django.setup()")
from separation.management.commands import separate
mark("import the command (engine API)")
from engine import weights
weights.onnx_model(settings.JAMWITHME_MODEL_DIR)
mark("weight checks")
from engine import get_engine
engine = get_engine(model_root=settings.JAMWITHME_MODEL_DIR,
                    threads=settings.JAMWITHME_MODEL_THREADS)
mark("ONNX Runtime import + session")
engine.separate_file({clip!r}, {out!r})
mark("separate 16 s clip")
print(json.dumps(marks))
"""


def cold_profile(repeat: int) -> None:
    python = sys.executable
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    with tempfile.TemporaryDirectory(prefix="jamwithme-cold-") as tmp:
        script = COLD_STEPS.format(root=str(ROOT), clip=str(CLIP), out=str(Path(tmp) / "steps"))
        best = None
        for _ in range(repeat):
            started = time.time()
            done = subprocess.run([python, "-c", script, repr(started)], env=env, check=True,
                                  capture_output=True, text=True, cwd=ROOT)  # fmt: skip
            marks = json.loads(done.stdout.strip().splitlines()[-1])
            total = marks[-1][1] - marks[0][1]
            best = marks if best is None or total < best[-1][1] - best[0][1] else best
        command = [python, str(ROOT / "manage.py"), "separate", str(CLIP), "--out", tmp]
        walls, cpus = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            child = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
            _, status, usage = os.wait4(child.pid, 0)
            walls.append(time.perf_counter() - started)
            cpus.append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status):
                raise SystemExit(f"{' '.join(command)} failed")
        started = time.perf_counter()
        subprocess.run([python, "-c", "pass"], check=True)
        bare = time.perf_counter() - started
    print(f"\n== cold start: `manage.py separate` on a 16 s clip (best of {repeat}) ==")
    print(f"{'step':<34} {'wall s':>7} {'CPU s':>7}")
    for (_, before, cpu_before), (name, after, cpu_after) in itertools.pairwise(best):
        print(f"{name:<34} {after - before:7.2f} {cpu_after - cpu_before:7.2f}")
    print(f"{'total (steps)':<34} {best[-1][1] - best[0][1]:7.2f} {best[-1][2]:7.2f}")
    print(
        f"`manage.py separate` from outside: {min(walls):.2f} s wall, {min(cpus):.2f} s CPU "
        f"(runs: {', '.join(f'{w:.2f}' for w in walls)} s); `python -c pass`: {bare:.2f} s"
    )


SPLIT_CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from engine import get_engine, model
model.MAX_STREAMS = {streams}
engine = get_engine(threads={threads})
engine.separate_file({clip!r}, {out!r} + "/warmup")
time.sleep(max(0.0, {start_at} - time.time()))
for n in range({songs}):
    engine.separate_file({song!r}, {out!r} + f"/{{n}}")
print(json.dumps(time.time()))
"""


def split_profile(minutes: float, songs: int, cores: int) -> None:
    """Songs per hour for each split of the cores into workers x threads, warm engines."""
    print(f"\n== workers x threads on {cores} cores: {songs} songs of {minutes:g} min each ==")
    # (workers, network threads per worker, streams per worker): the default, two streams,
    # and one stream on every thread of the worker.
    splits = [(w, cores // w, min(2, cores // w)) for w in range(1, cores + 1) if cores % w == 0]
    splits += [(w, t, 1) for w, t, streams in list(splits) if streams > 1]
    with tempfile.TemporaryDirectory(prefix="jamwithme-split-") as tmp:
        tmp = Path(tmp)
        song = build_song(tmp, minutes * 60)
        for workers, threads, streams in splits:
            start_at = time.time() + 10.0 + 3.0 * workers  # after every engine has loaded
            children = []
            for w in range(workers):
                script = SPLIT_CHILD.format(
                    root=str(ROOT), threads=threads, streams=streams, clip=str(CLIP),
                    out=str(tmp / f"out{w}"),
                    start_at=start_at, songs=songs, song=str(song),
                )  # fmt: skip
                children.append(subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                                                 stdout=subprocess.PIPE, text=True))  # fmt: skip
            ends = [float(child.communicate()[0].strip().splitlines()[-1]) for child in children]
            elapsed = max(ends) - start_at
            per_hour = workers * songs * 3600 / elapsed
            print(f"{workers} worker(s) x {threads} thread(s) in {streams} stream(s): "
                  f"{workers * songs} songs in "
                  f"{elapsed:.1f} s -> {per_hour:.0f} songs/hour "
                  f"({elapsed / songs:.1f} s per song per worker)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="warm song length")
    parser.add_argument("--repeat", type=int, default=2, help="runs; the fastest is shown")
    parser.add_argument("--no-warm", action="store_true")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument(
        "--split", type=int, default=0, metavar="SONGS",
        help="also time every workers x threads split, SONGS songs per worker",
    )  # fmt: skip
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    if not args.no_warm:
        warm_profile(args.minutes, args.repeat)
    if not args.no_cold:
        cold_profile(args.repeat)
    if args.split:
        split_profile(args.minutes, args.split, os.cpu_count() or 1)


if __name__ == "__main__":
    main()
