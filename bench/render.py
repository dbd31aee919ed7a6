"""What an export costs in memory and time as the song gets longer, with the real Rubber Band.

Renders the stems of the dev clip (tests/data/dev1_vocadito10_loops: accompaniment + vocals
at a 10 % balance), repeated to each of ``--lengths`` minutes at ``--rate``, at ``--tempo``,
as WAV, each in a child process, and prints the wall time, the real-time factor and the
peak memory (ru_maxrss of the child, Python and libraries included). The renderer streams in
pieces, so the peak should not grow with the length. As the baseline, measured in the same
run: the shortest length rendered the way exports were made before (the whole mix in memory,
pedalboard's offline `time_stretch`, then written), and the ratio of the two peaks. Figures
are printed, not asserted (tests/practice asserts pitch, length and the beat).

    .venv/bin/python bench/render.py                        # 2 and 10 minutes, 48 kHz, 75 %
    .venv/bin/python bench/render.py --lengths 2 --rate 192000
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops"


def whole_song(gains, tempo: float, out: Path) -> None:
    """The way exports were made before the streaming renderer: all of it in memory."""
    import pedalboard
    from pedalboard.io import AudioFile

    mix = None
    for path, gain in gains:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        mix = gain * data.T if mix is None else mix + gain * data.T
    stretched = pedalboard.time_stretch(mix, rate, stretch_factor=tempo, high_quality=True)
    stretched *= 0.989 / max(float(np.max(np.abs(stretched))), 1e-9)
    with AudioFile(str(out.with_suffix(".wav")), "w", rate, stretched.shape[0], bit_depth=24) as f:
        f.write(np.ascontiguousarray(stretched, dtype=np.float32))


def child(args: list[str]) -> None:
    from practice import audio

    folder, minutes, tempo, how = Path(args[0]), args[1], float(args[2]), args[3]
    gains = [
        (folder / f"accompaniment-{minutes}.wav", 1.0),
        (folder / f"vocals-{minutes}.wav", 0.1),
    ]
    started = time.perf_counter()
    if how == "whole":
        whole_song(gains, tempo, folder / "out-whole")
    else:
        spec = audio.RenderSpec(gains=gains, tempo=tempo, fmt="wav")
        audio.render(spec, folder / "out-streamed")
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "peak_mb": peak}))


def make_inputs(folder: Path, minutes: float, rate: int) -> None:
    import soxr

    for stem in ("accompaniment", "vocals"):
        data, clip_rate = sf.read(str(CLIP / f"{stem}.flac"), dtype="float32", always_2d=True)
        if rate != clip_rate:
            data = soxr.resample(data, clip_rate, rate).astype(np.float32)
        frames = int(minutes * 60 * rate)
        with sf.SoundFile(folder / f"{stem}-{minutes:g}.wav", "w", rate, 2, "PCM_24") as out:
            written = 0
            while written < frames:
                block = data[: frames - written]
                out.write(block)
                written += len(block)


def run_child(folder: Path, minutes: float, tempo: float, how: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(folder), f"{minutes:g}", str(tempo), how],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench.machine import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--rate", type=int, default=48_000)
    parser.add_argument("--tempo", type=float, default=0.75)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"stems at {args.rate / 1000:g} kHz stereo, tempo {args.tempo:.0%}, WAV 24-bit")
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for minutes in args.lengths:
            make_inputs(folder, minutes, args.rate)
            result = run_child(folder, minutes, args.tempo, "streamed")
            peaks[minutes] = result["peak_mb"]
            print(
                f"{minutes:4g} min streamed: {result['wall_s']:7.1f} s wall, "
                f"{minutes * 60 / result['wall_s']:5.1f}x real time, "
                f"peak {result['peak_mb']:5.0f} MB"
            )
        shortest = min(args.lengths)
        base = run_child(folder, shortest, args.tempo, "whole")
        print(
            f"{shortest:4g} min whole song (before): {base['wall_s']:7.1f} s wall, peak "
            f"{base['peak_mb']:5.0f} MB; streamed / whole peak: "
            f"{peaks[shortest] / base['peak_mb']:.2f}"
        )
    if len(peaks) > 1:
        longest = max(args.lengths)
        print(
            f"peak at {longest:g} min / at {shortest:g} min, streamed: "
            f"{peaks[longest] / peaks[shortest]:.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
