"""Songs per hour of the engine on one device: songs one after another, then several at once
with their pieces batched together (the GPU worker's `JAM_ENGINE_BATCH`, `-P threads -c N`).

Separates `--songs` copies of a song made from the dev clip, first one at a time over the
plain model, then `--at-once` at a time over a BatchingModel, in this one warm process, and
prints songs per hour, the real-time factor, the batch sizes the networks saw and the peak
memory. Figures are printed, not asserted. On a GPU worker (onnxruntime-gpu installed):

    .venv/bin/python bench/batching.py --device cuda --batch 8 --at-once 4 --songs 8
    .venv/bin/python bench/batching.py            # here: the CPU, 2 at once, batches of 4
"""

import argparse
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "tests" / "data" / "dev1_vocadito10_loops" / "mix.flac"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--batch", type=int, default=4, help="segments per network call")
    parser.add_argument("--at-once", type=int, default=2, help="songs separated at once")
    parser.add_argument("--songs", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=0, help="CPU model threads (0: all)")
    args = parser.parse_args()

    import numpy as np
    import soundfile as sf

    from engine import Engine
    from engine.batching import BatchingModel
    from engine.model import UNetModel

    model = UNetModel(threads=args.threads, device=args.device)
    plain = Engine(model=model)
    batched = Engine(model=BatchingModel(model, max_batch=args.batch))
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="jamwithme-batching-") as tmp:
        tmp = Path(tmp)
        audio, rate = sf.read(CLIP, dtype="float32")
        repeats = int(np.ceil(seconds * rate / len(audio)))
        song = tmp / "song.flac"
        sf.write(song, np.concatenate([audio] * repeats)[: int(seconds * rate)], rate)
        plain.separate_file(song, tmp / "warm-up")

        def run(engine: Engine, at_once: int) -> float:
            started = time.monotonic()
            with ThreadPoolExecutor(at_once) as pool:
                jobs = [
                    pool.submit(engine.separate_file, song, tmp / f"out-{at_once}-{n}")
                    for n in range(args.songs)
                ]
                for job in jobs:
                    job.result()
            return time.monotonic() - started

        one_at_a_time = run(plain, 1)
        at_once = run(batched, args.at_once)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"machine: {os.cpu_count()} cores; device {model.device}; {args.songs} songs of "
        f"{args.minutes:g} min"
    )
    for label, wall in (
        ("one song at a time, no batching", one_at_a_time),
        (f"{args.at_once} at once, batches of up to {args.batch}", at_once),
    ):
        per_song = wall / args.songs
        print(
            f"{label}: {wall:.1f} s -> {3600 / per_song:.0f} songs/hour, "
            f"real-time factor {seconds / per_song:.1f}x"
        )
    sizes = dict(sorted(batched.model.sizes.items()))
    print(f"network calls by batch size (segments: calls): {sizes}")
    print(f"ratio, at once / one at a time: {one_at_a_time / at_once:.2f}x")
    print(f"peak memory of this process: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
