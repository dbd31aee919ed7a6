"""The machine a benchmark ran on, printed beside its figures: the CPU model, the cores, and
how long 10 million Python additions take at module level (0.96 s on the AMD EPYC where
earlier figures were taken; faster machines take less)."""

import os
import time
from pathlib import Path

LOOP = "total = 0\nfor i in range(10_000_000):\n    total += i\n"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def additions_seconds() -> float:
    started = time.perf_counter()
    exec(LOOP, {})
    return time.perf_counter() - started


def machine() -> str:
    return f"{cpu_model()}, {os.cpu_count()} cores; 10 M additions {additions_seconds():.2f} s"


if __name__ == "__main__":
    print(machine())
