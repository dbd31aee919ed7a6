"""The jam track's tempo, estimated for the player's count-in: checked on click tracks made
here at known tempos and on the dev clip whose loops are 120 BPM (tests/data meta.json)."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.tempo import estimate_tempo

DATA = Path(__file__).resolve().parents[1] / "data"
RATE = 44100


def click_track(path: Path, *, bpm: float, seconds: float = 20.0, accent_every: int = 4) -> Path:
    """Short decaying noise bursts on every beat, the first of each bar louder, over a
    quiet noise floor (a click track a real song's drums resemble)."""
    rng = np.random.default_rng(7)
    audio = 0.01 * rng.standard_normal(int(seconds * RATE))
    burst = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    beat = 60.0 / bpm
    for index, start in enumerate(np.arange(0.1, seconds - 0.1, beat)):
        at = int(start * RATE)
        loud = 0.8 if index % accent_every == 0 else 0.4
        audio[at : at + len(burst)] += loud * burst[: len(audio) - at]
    sf.write(path, np.stack([audio, audio], axis=1).astype(np.float32), RATE)
    return path


@pytest.mark.parametrize("bpm", [72.0, 96.0, 120.0, 140.0, 168.0])
def test_it_finds_the_tempo_of_a_click_track(tmp_path, bpm):
    estimate = estimate_tempo(click_track(tmp_path / "click.wav", bpm=bpm))
    print(f"click track at {bpm} BPM: estimated {estimate:.2f} BPM")
    assert estimate == pytest.approx(bpm, rel=0.01)


def test_it_finds_the_120_bpm_of_the_dev_clips_loops():
    estimate = estimate_tempo(DATA / "dev1_vocadito10_loops" / "accompaniment.flac")
    print(f"dev1 accompaniment (loops at 120 BPM): estimated {estimate:.2f} BPM")
    assert estimate == pytest.approx(120.0, rel=0.01)


def test_it_finds_the_120_bpm_of_the_dev_clip_played_three_times_over(tmp_path):
    """The browser test's song: its voice once made the estimate halve to 60 BPM."""
    audio, rate = sf.read(DATA / "dev1_vocadito10_loops" / "mix.flac", dtype="float32")
    path = tmp_path / "three.wav"
    sf.write(path, np.concatenate([audio] * 3), rate)
    assert estimate_tempo(path) == pytest.approx(120.0, rel=0.01)


def test_it_says_nothing_for_silence_or_a_clip_too_short_to_tell(tmp_path):
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((RATE * 10, 2), dtype=np.float32), RATE)
    short = click_track(tmp_path / "short.wav", bpm=120, seconds=2.0)
    assert estimate_tempo(silent) is None
    assert estimate_tempo(short) is None
