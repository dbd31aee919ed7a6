"""What an export costs and what it does to pitch and length, with the real Rubber Band.

Renders the stems of the dev clip (tests/data/dev1_vocadito10_loops: accompaniment +
vocals at a 10 % balance), repeated to ``--minutes``, at 75 % tempo and at +2 semitones,
as FLAC, in a child process each, and prints the wall time, the real-time factor, the peak
memory (ru_maxrss of the child), and on a 440 Hz tone of the same length the measured pitch
and length ratios. Figures are printed, not asserted (tests/practice asserts them).

    .venv/bin/python bench/render.py               # 3-minute song
    .venv/bin/python bench/render.py --minutes 15  # the longest upload
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


def child(args: list[str]) -> None:
    from practice import audio
    from tests.practice.measure import fundamental_hz

    folder, tempo, semitones, kind = Path(args[0]), float(args[1]), float(args[2]), args[3]
    if kind == "tone":
        gains = [(folder / "tone.wav", 1.0)]
    else:
        gains = [(folder / "accompaniment.wav", 1.0), (folder / "vocals.wav", 0.1)]
    spec = audio.RenderSpec(gains=gains, tempo=tempo, semitones=semitones, fmt="flac")
    started = time.perf_counter()
    rendered = audio.render(spec, folder / f"out-{kind}")
    wall = time.perf_counter() - started
    result = {
        "wall_s": wall,
        "out_s": rendered.duration_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if kind == "tone":
        data, rate = sf.read(str(rendered.path), dtype="float32", always_2d=True)
        result["pitch_ratio"] = fundamental_hz(data, rate) / 440.0
        result["length_ratio"] = len(data) / sf.info(str(gains[0][0])).frames
    print(json.dumps(result))


def make_inputs(folder: Path, minutes: float) -> float:
    seconds = 0.0
    for stem in ("accompaniment", "vocals"):
        data, rate = sf.read(str(CLIP / f"{stem}.flac"), dtype="float32", always_2d=True)
        repeats = int(np.ceil(minutes * 60 * rate / len(data)))
        song = np.tile(data, (repeats, 1))[: int(minutes * 60 * rate)]
        sf.write(folder / f"{stem}.wav", song, rate, subtype="PCM_16")
        seconds = len(song) / rate
    t = np.arange(int(seconds * 44100)) / 44100
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(folder / "tone.wav", np.stack([wave, wave], axis=1), 44100, subtype="PCM_16")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seconds = make_inputs(folder, args.minutes)
        print(f"song: {seconds:.0f} s, stereo; output FLAC 24-bit")
        for tempo, semitones in ((0.75, 0), (1.0, 2)):
            for kind in ("song", "tone"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", tmp, str(tempo), str(semitones), kind],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
                line = (
                    f"tempo {tempo:.0%} key {semitones:+g}: {kind:4} "
                    f"{result['wall_s']:6.1f} s wall, {seconds / result['wall_s']:5.1f}x real "
                    f"time, peak {result['peak_mb']:6.0f} MB"
                )
                if kind == "tone":
                    line += (
                        f"; 440 Hz tone: pitch x{result['pitch_ratio']:.4f}, "
                        f"length x{result['length_ratio']:.4f}"
                    )
                print(line)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
