import re
import subprocess
import sys
from pathlib import Path

from catalog.stems import JAM_TRACK, ORIGINAL_COLOUR, STEM_NAMES, STEMS, get_stem
from engine import dsp

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_lists_the_instrumental_first_then_the_vocals():
    assert STEM_NAMES == ("instrumental", "vocals")
    assert tuple(stem.name for stem in STEMS) == STEM_NAMES
    assert get_stem(JAM_TRACK).label == "Instrumental (jam track)"
    assert get_stem("vocals").label == "Vocals"


def test_every_stem_is_one_of_the_networks_outputs_and_has_a_colour():
    assert sorted(stem.output for stem in STEMS) == sorted(dsp.OUTPUTS)
    assert get_stem("instrumental").output == "accompaniment"
    for colour in (*(stem.colour for stem in STEMS), ORIGINAL_COLOUR):
        assert re.fullmatch(r"#[0-9a-f]{6}", colour)


def test_an_unknown_stem_name_is_none():
    assert get_stem("accompaniment") is None
    assert get_stem("") is None


def test_importing_the_engine_pulls_in_no_platform_module():
    platform = {"django", "channels", "celery", "tracks", "accounts", "notifications", "jamwithme"}
    check = (
        "import sys, engine\n"
        f"found = sorted(m for m in sys.modules if m.split('.')[0] in {platform!r})\n"
        "outside = sorted(m for m in sys.modules if m.startswith('separation.')"
        " and not m.startswith('engine'))\n"
        "assert not found and not outside, (found, outside)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
