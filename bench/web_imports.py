"""What a web process imports: django.setup(), the URLconf and the ASGI app, in a fresh
interpreter. Prints the number of modules, the time it took, and which audio packages are
loaded (none should be: the web process reads headers, never samples).

    .venv/bin/python bench/web_imports.py [--list]
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine

AUDIO = ("numpy", "scipy", "soxr", "soundfile", "pedalboard", "onnxruntime", "tensorflow", "PIL")

PROBE = """
import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jamwithme.settings")
started = time.perf_counter()
import django
django.setup()
from django.conf import settings
from django.urls import get_resolver
get_resolver(settings.ROOT_URLCONF).url_patterns
from jamwithme.asgi import application
elapsed = time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "modules": sorted(sys.modules)}))
"""


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=root, env=env, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    modules = result["modules"]
    print(f"machine: {machine()}")
    print(f"web process: {len(modules)} modules in {result['seconds']:.2f} s")
    for name in AUDIO:
        loaded = name in modules
        print(f"  {name:12s} {'LOADED' if loaded else 'not loaded'}")
    if "--list" in sys.argv:
        print("\n".join(modules))


if __name__ == "__main__":
    main()
