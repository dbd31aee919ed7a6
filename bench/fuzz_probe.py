"""Coverage-guided fuzzing of the engine's header probe (``read_header`` and the decode checks).

    .venv/bin/uv pip install --python .venv/bin/python atheris   # not in requirements.txt
    .venv/bin/python bench/fuzz_probe.py --seconds 180 [--scan]

Seeds are the hostile corpus of ``tests/corpus.py``. Each input is written to a file and
probed with the platform's default limits; ``--scan`` also decodes it (slower). Any exception
other than the engine's ``AudioError`` is a finding: it is printed with its input saved
under ``--findings`` (default ``var/fuzz-findings``) and the run goes on. At the end it prints
the executions, libFuzzer's coverage figures (``cov``/``ft`` lines) and the findings.
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["engine"]):
    from engine import audio
    from engine.errors import AudioError

from tests import corpus  # noqa: E402

LIMITS = audio.Limits(max_duration_s=900, max_sample_rate=192_000, max_samples=900 * 96_000 * 2)
NAMES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--scan", action="store_true", help="decode too, not only the header")
    parser.add_argument("--findings", type=Path, default=ROOT / "var" / "fuzz-findings")
    args, rest = parser.parse_known_args()

    work = Path(tempfile.mkdtemp(prefix="fuzz-probe-"))
    seeds = work / "seeds"
    corpus.write(seeds)
    target = work / "input"
    stats = {"runs": 0, "refused": 0, "accepted": 0}
    findings: dict[str, str] = {}
    started = time.monotonic()

    def one_input(data: bytes) -> None:
        stats["runs"] += 1
        if stats["runs"] % 1000 == 0 or time.monotonic() - started > args.seconds - 2:
            report()  # libFuzzer ends the process with _exit: atexit alone would not print
        path = target.with_suffix(NAMES[len(data) % len(NAMES)])
        path.write_bytes(data)
        try:
            audio.probe(path, scan=args.scan, name="fuzz", limits=LIMITS)
        except AudioError as error:
            stats["refused"] += 1
            message = str(error)
            if "\n" in message or not message.startswith("fuzz: "):
                record(data, f"AudioError not one line naming the file: {message!r}")
        except Exception as error:
            record(data, "".join(traceback.format_exception_only(error)).strip())
        else:
            stats["accepted"] += 1

    def record(data: bytes, what: str) -> None:
        key = what.splitlines()[0][:200]
        if key not in findings:
            args.findings.mkdir(parents=True, exist_ok=True)
            saved = args.findings / hashlib.sha1(data).hexdigest()
            saved.write_bytes(data)
            findings[key] = str(saved)
            print(f"FINDING: {key} (input: {saved})", flush=True)

    @atexit.register
    def report() -> None:
        elapsed = time.monotonic() - started
        print(
            f"\nfuzz_probe: {stats['runs']} executions in {elapsed:.0f} s "
            f"({stats['runs'] / max(elapsed, 1e-9):.0f}/s), {stats['refused']} refused, "
            f"{stats['accepted']} accepted, {len(findings)} findings",
            flush=True,
        )
        for key, saved in findings.items():
            print(f"  {key}  [{saved}]", flush=True)

    live = work / "live"
    live.mkdir()
    libfuzzer = [sys.argv[0], *rest, f"-max_total_time={args.seconds}", "-max_len=65536"]
    libfuzzer += ["-print_final_stats=1", str(live), str(seeds)]
    atheris.Setup(libfuzzer, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
