"""Benchmark: the engine against the Spleeter CLI, in one run, on the same files.

    .venv/bin/python bench/separation.py            # 60 s and 5 min songs (+ a 10 min engine run)
    .venv/bin/python bench/separation.py --quick    # 60 s only

Songs are built from the two dev mixtures in tests/data (their true stems alongside), so
quality can be scored too. The cold start is `manage.py separate` on one 16 s dev mixture.
Each run is a fresh process, measured from outside: wall time and
peak resident memory (the child's own rusage). The CLI needs Debian's ffmpeg (for ffprobe).
Prints figures; asserts nothing. Timings on a shared machine vary: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "data"
MIXTURES = ("dev1_vocadito10_loops", "dev2_festival_sectoid")
RATE = 44100


def build_song(folder: Path, seconds: int) -> tuple[Path, Path]:
    """Alternate the two 16 s mixtures up to ``seconds``; return (mix.wav, accompaniment.wav)
    (and ``song<seconds>s_vocals.wav`` beside them, the true vocals)."""
    out = {}
    for stem in ("mix", "accompaniment", "vocals"):
        parts = [sf.read(DATA / name / f"{stem}.flac", dtype="int16")[0] for name in MIXTURES]
        reps = -(-seconds * RATE // sum(len(p) for p in parts))
        song = np.concatenate(parts * reps)[: seconds * RATE]
        path = folder / f"song{seconds}s_{stem}.wav"
        sf.write(path, song, RATE, subtype="PCM_16")
        out[stem] = path
    mix = folder / f"song{seconds}s.wav"
    out["mix"].rename(mix)
    return mix, out["accompaniment"]


def measure(command: list[str], env: dict) -> dict:
    """Run a command; return wall time, peak RSS of the process tree's largest member, stdout."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as captured:
        process = subprocess.Popen(command, env=env, stdout=captured, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        captured.seek(0)
        output = captured.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with {process.returncode}:\n{output[-2000:]}")
    return {"wall_s": wall, "peak_mb": usage.ru_maxrss / 1024, "output": output}


def run_engine_child(song: str, out: str) -> None:
    """Inside a fresh process: load the engine, separate one song, report timings as JSON."""
    started = time.monotonic()
    from catalog.stems import JAM_TRACK
    from engine import get_engine

    engine = get_engine()
    loaded = time.monotonic()
    result = engine.separate_file(song, out)
    done = time.monotonic()
    print(json.dumps({"load_s": loaded - started, "separate_s": done - loaded,
                      "accompaniment": str(result.stems[JAM_TRACK])}))  # fmt: skip


def table_row(*cells: str) -> None:
    widths = (6, 22, 8, 7, 8)
    fixed = " ".join(f"{cell:>{w}}" if i != 1 else f"{cell:<{w}}" for i, (cell, w) in
                     enumerate(zip(cells, widths, strict=False)))  # fmt: skip
    print(fixed + ("  " + cells[5] if len(cells) > 5 else ""))


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = float(np.sum((reference - estimate) ** 2))
    return 10 * np.log10(float(np.sum(reference**2)) / max(error, 1e-30))


def vocal_left(jam: np.ndarray, vocals: np.ndarray) -> float:
    """The share of the true vocal's amplitude left in the jam track (0: none, 1: all)."""
    return float(np.sum(jam * vocals) / np.sum(vocals * vocals))


def band_report(truth: np.ndarray, estimate: np.ndarray) -> str:
    import scipy.signal

    parts = []
    for low, high in ((11025, 16000), (16000, None)):
        kind, edges = ("bandpass", [low, high]) if high else ("highpass", low)
        sos = scipy.signal.butter(8, edges, btype=kind, fs=RATE, output="sos")
        t = scipy.signal.sosfiltfilt(sos, truth, axis=0)
        e = scipy.signal.sosfiltfilt(sos, estimate, axis=0)
        level = 10 * np.log10(np.sum(e**2) / np.sum(t**2) + 1e-30)
        label = f"{low / 1000:g}-{high / 1000:g} kHz" if high else f">{low / 1000:g} kHz"
        parts.append(f"{label}: level {level:+.2f} dB vs truth, band SDR {sdr(t, e):.1f} dB")
    return "; ".join(parts)


def seam_report(mix_path: Path, truth_path: Path) -> list[str]:
    """Streamed (one 512-frame segment per piece) vs whole-file, in 1 s windows at seams."""
    from engine import dsp, get_engine

    engine = get_engine()
    mix = sf.read(mix_path, dtype="float32")[0]
    truth = sf.read(truth_path, dtype="float32")[0]
    streamed = engine.separate_waveform(mix, segments_per_piece=1)["accompaniment"]
    whole = engine.separate_waveform(mix, segments_per_piece=10_000)["accompaniment"]
    piece = dsp.SEGMENT * dsp.HOP
    boundaries = [k * piece - dsp.FRAME for k in range(1, len(mix) // piece + 1)]
    losses = []
    for b in boundaries:
        window = slice(max(0, b - RATE // 2), b + RATE // 2)
        losses.append(sdr(truth[window], whole[window]) - sdr(truth[window], streamed[window]))
    return [
        f"piece boundaries: {len(boundaries)} (every {piece / RATE:.2f} s)",
        f"SDR loss in 1 s windows at boundaries, streamed vs whole-file: "
        f"max {max(losses):+.4f} dB, mean {np.mean(losses):+.4f} dB",
        f"max |streamed - whole| sample difference: {np.max(np.abs(streamed - whole)):.2e}",
        f"whole-song accompaniment SDR: streamed {sdr(truth, streamed):.2f} dB, "
        f"whole {sdr(truth, whole):.2f} dB, unprocessed mix {sdr(truth, mix):.2f} dB",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="only the 60 s song")
    parser.add_argument("--no-cli", action="store_true", help="skip the Spleeter CLI runs")
    parser.add_argument("--engine-child", nargs=2, metavar=("SONG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine_child:
        run_engine_child(*args.engine_child)
        return

    from engine import weights

    weights.verify()
    env = {**os.environ, "MODEL_PATH": str(weights.DEFAULT_MODEL_ROOT), "PYTHONUNBUFFERED": "1"}
    spleeter = Path(sys.executable).with_name("spleeter")
    if not args.no_cli and not shutil.which("ffprobe"):
        raise SystemExit("the Spleeter CLI needs ffprobe: apt-get install ffmpeg (or --no-cli)")
    lengths = [60] if args.quick else [60, 300, 600]
    cli_lengths = {60, 300}  # the CLI cuts songs at 600 s, so no 10-minute comparison
    print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="jamwithme-bench-") as tmp:
        tmp = Path(tmp)
        for seconds in lengths:
            mix, truth = build_song(tmp, seconds)
            row = {"seconds": seconds}
            if not args.no_cli and seconds in cli_lengths:
                cli = measure(
                    [str(spleeter), "separate", "-p", "spleeter:2stems", "-o", str(tmp / "cli"),
                     str(mix)], env,
                )  # fmt: skip
                row["cli"] = cli
                cli_jam = tmp / "cli" / mix.stem / "accompaniment.wav"
                row["cli_out"] = cli_jam
            child = [
                sys.executable,
                __file__,
                "--engine-child",
                str(mix),
                str(tmp / "engine" / mix.stem),
            ]
            engine = measure(child, env)
            engine.update(json.loads(engine["output"].strip().splitlines()[-1]))
            row["engine"] = engine
            row["truth"], row["mix"] = truth, mix
            rows.append(row)
            print(f"  done: {seconds} s song", flush=True)

        print("\n== speed and memory (fresh process per run: import, model load, separation) ==")
        table_row("song", "tool", "wall s", "RTF", "peak MB", "notes")
        for row in rows:
            s, e = row["seconds"], row["engine"]
            if "cli" in row:
                c = row["cli"]
                table_row(f"{s}s", "spleeter CLI 2stems", f"{c['wall_s']:.1f}",
                          f"{c['wall_s'] / s:.3f}", f"{c['peak_mb']:.0f}")  # fmt: skip
            table_row(f"{s}s", "engine (cold process)", f"{e['wall_s']:.1f}",
                      f"{e['wall_s'] / s:.3f}", f"{e['peak_mb']:.0f}",
                      f"load {e['load_s']:.1f} s + separate "
                      f"{e['separate_s']:.1f} s (warm RTF {e['separate_s'] / s:.3f})")  # fmt: skip
            if "cli" in row:
                table_row("", "ratio CLI/engine", f"{c['wall_s'] / e['wall_s']:.2f}x", "",
                          f"{c['peak_mb'] / e['peak_mb']:.2f}x",
                          f"warm engine: {c['wall_s'] / e['separate_s']:.2f}x faster")  # fmt: skip

        clip = DATA / MIXTURES[0] / "mix.flac"
        manage = [sys.executable, str(ROOT / "manage.py"), "separate", str(clip), "--out"]
        colds = [measure([*manage, str(tmp / f"cold{n}")], env) for n in range(3)]
        best = min(colds, key=lambda run: run["wall_s"])
        print("\n== cold start: `manage.py separate` on a 16 s clip, fresh process (best of 3) ==")
        runs = ", ".join(f"{run['wall_s']:.2f}" for run in colds)
        print(f"  {best['wall_s']:.2f} s wall, peak {best['peak_mb']:.0f} MB (runs: {runs} s)")

        print("\n== quality against the true accompaniment (and the vocal left in it) ==")
        from engine import get_engine

        warm = get_engine()
        for row in rows[:2]:
            truth = sf.read(row["truth"], dtype="float32")[0]
            vocals = sf.read(str(row["truth"]).replace("accompaniment", "vocals"))[0]
            mix = sf.read(row["mix"], dtype="float32")[0]
            ours = sf.read(row["engine"]["accompaniment"], dtype="float32")[0]
            started = time.monotonic()
            cleaner_out = warm.separate_file(row["mix"], tmp / "cleaner" / row["mix"].stem,
                                             quality="cleaner")  # fmt: skip
            cleaner_s = time.monotonic() - started
            cleaner = sf.read(cleaner_out.stems["instrumental"], dtype="float32")[0]
            print(f"{row['seconds']} s song (unprocessed mix: SDR {sdr(truth, mix):.2f} dB)")
            print(f"  engine:       SDR {sdr(truth, ours):.2f} dB, vocal left "
                  f"{100 * vocal_left(ours, vocals):.1f} %, warm "
                  f"{row['engine']['separate_s']:.1f} s; {band_report(truth, ours)}")  # fmt: skip
            print(f"  + post-filter ('cleaner'): SDR {sdr(truth, cleaner):.2f} dB, vocal left "
                  f"{100 * vocal_left(cleaner, vocals):.1f} %, warm {cleaner_s:.1f} s; "
                  f"{band_report(truth, cleaner)}")  # fmt: skip
            if "cli_out" in row:
                theirs = sf.read(row["cli_out"], dtype="float32")[0][: len(truth)]
                print(
                    f"  spleeter CLI: SDR {sdr(truth, theirs):.2f} dB, vocal left "
                    f"{100 * vocal_left(theirs, vocals):.1f} %; {band_report(truth, theirs)}"
                )

        print("\n== seams (60 s song) ==")
        for line in seam_report(rows[0]["mix"], rows[0]["truth"]):
            print("  " + line)


if __name__ == "__main__":
    main()
