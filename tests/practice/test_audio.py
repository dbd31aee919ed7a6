"""The renderer measured on real audio with the real Rubber Band (its streaming stretcher,
through pylibrb): tempo changes keep the pitch, key changes keep the length, a click track's
beat stays on the stretched grid, a tone keeps its level. The numbers are printed
(`pytest -s`) and carried in the assertion messages."""

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from catalog.formats import EXPORT_FORMAT_LABELS, EXPORT_FORMATS
from practice import audio
from tests.practice.measure import fundamental_hz

RATE = 44100
TONE_HZ = 440.0
CLIP = Path(__file__).resolve().parents[1] / "data" / "dev1_vocadito10_loops"


def tone(path: Path, *, seconds: float = 4.0, hz: float = TONE_HZ, level: float = 0.3) -> Path:
    t = np.arange(int(seconds * RATE)) / RATE
    wave = level * np.sin(2 * np.pi * hz * t)
    sf.write(path, np.stack([wave, wave], axis=1).astype(np.float32), RATE, subtype="PCM_24")
    return path


def render_tone(tmp_path, **options) -> tuple[np.ndarray, int]:
    source = tone(tmp_path / "tone.wav")
    spec = audio.RenderSpec(gains=[(source, 1.0)], **options)
    rendered = audio.render(spec, tmp_path / "out")
    data, rate = sf.read(str(rendered.path), dtype="float32", always_2d=True)
    return data, rate


def test_a_render_at_75_percent_tempo_is_a_third_longer_at_the_same_pitch(tmp_path):
    data, rate = render_tone(tmp_path, tempo=0.75)
    length = len(data) / rate / 4.0
    pitch = fundamental_hz(data, rate) / TONE_HZ
    message = f"75 % tempo: length x{length:.4f} (want 1.3333), pitch x{pitch:.5f} (want 1)"
    print(message)
    assert abs(length - 4 / 3) <= 0.01 * 4 / 3, message
    assert abs(pitch - 1) <= 0.01, message


def test_a_render_two_semitones_up_keeps_its_length_and_rises_by_12_2_percent(tmp_path):
    data, rate = render_tone(tmp_path, semitones=2)
    length = len(data) / rate / 4.0
    rise = fundamental_hz(data, rate) / TONE_HZ - 1
    message = f"+2 semitones: length x{length:.4f} (want 1), pitch +{100 * rise:.3f} % (want 12.2)"
    print(message)
    assert abs(length - 1) <= 0.01, message
    assert abs(100 * rise - 12.2) <= 1.0, message


def test_the_vocal_of_a_real_clip_moves_by_as_much_as_the_tone(tmp_path):
    """A sung clip (vocadito), not a sine: the pitch of its strongest partial over the whole
    clip rises by 2^(2/12) at +2 semitones, and the length is unchanged."""
    source = CLIP / "vocals.flac"
    before, rate = sf.read(str(source), dtype="float32", always_2d=True)
    spec = audio.RenderSpec(gains=[(source, 1.0)], semitones=2, fmt="flac")
    rendered = audio.render(spec, tmp_path / "vocals")
    after, _ = sf.read(str(rendered.path), dtype="float32", always_2d=True)
    ratio = _median_pitch(after, rate) / _median_pitch(before, rate)
    length = len(after) / len(before)
    message = f"sung clip +2 semitones: pitch x{ratio:.4f} (want 1.1225), length x{length:.4f}"
    print(message)
    assert abs(length - 1) <= 0.01, message
    assert abs(ratio - 2 ** (2 / 12)) <= 0.01 * 2 ** (2 / 12), message


def _median_pitch(data: np.ndarray, rate: int) -> float:
    """The median, over voiced 100 ms frames, of each frame's strongest frequency (80-1000 Hz)."""
    mono = data.mean(axis=1)
    frame = rate // 10
    found = []
    for start in range(0, len(mono) - frame, frame):
        piece = mono[start : start + frame]
        if np.sqrt(np.mean(piece**2)) < 0.01:
            continue
        found.append(fundamental_hz(piece, rate))
    found = [hz for hz in found if 80 <= hz <= 1000]
    assert len(found) >= 10, "the clip should have voiced frames"
    return float(np.median(found))


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3"])
def test_each_format_is_written_and_reads_back_at_the_right_length(tmp_path, fmt):
    source = tone(tmp_path / "tone.wav", seconds=2.0)
    rendered = audio.render(audio.RenderSpec(gains=[(source, 1.0)], fmt=fmt), tmp_path / "out")
    assert rendered.path.suffix == f".{fmt}"
    info = sf.info(str(rendered.path))
    assert info.format == {"wav": "WAV", "flac": "FLAC", "mp3": "MP3"}[fmt]
    assert abs(info.duration - 2.0) < 0.06  # MP3 adds its encoder's padding (~26 ms)


def test_a_mix_adds_the_stems_at_their_gains_and_never_clips(tmp_path):
    low = tone(tmp_path / "low.wav", hz=220, level=0.6)
    high = tone(tmp_path / "high.wav", hz=880, level=0.6)
    quiet = audio.render(audio.RenderSpec(gains=[(low, 1.0), (high, 0.1)]), tmp_path / "a")
    loud = audio.render(audio.RenderSpec(gains=[(low, 1.0), (high, 1.0)]), tmp_path / "b")
    data, rate = sf.read(str(quiet.path), always_2d=True)
    spectrum = np.abs(np.fft.rfft(data[:, 0]))
    bins = len(data) / rate
    assert spectrum[int(880 * bins)] / spectrum[int(220 * bins)] == pytest.approx(0.1, rel=0.02)
    peak = np.max(np.abs(sf.read(str(loud.path))[0]))
    assert 0.98 <= peak <= audio.PEAK_CEILING + 1e-4  # 1.2 would clip: one gain brings it down


@pytest.mark.parametrize(
    "fmt", [fmt for fmt in EXPORT_FORMATS if fmt.max_sample_rate], ids=lambda fmt: fmt.name
)
def test_a_song_above_a_formats_highest_rate_is_written_at_that_rate_same_length_and_pitch(
    tmp_path, fmt
):
    rate, seconds = 96_000, 1.0
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    source = tmp_path / "hires.wav"
    sf.write(source, np.stack([wave, wave], axis=1), rate, subtype="PCM_24")
    rendered = audio.render(audio.RenderSpec(gains=[(source, 1.0)], fmt=fmt.name), tmp_path / "o")
    assert rendered.path.suffix == fmt.extension
    data, written = sf.read(str(rendered.path), dtype="float32", always_2d=True)
    assert written == rendered.sample_rate == fmt.max_sample_rate
    assert len(data) / written == pytest.approx(seconds, abs=0.06)  # MP3 pads a little
    assert fundamental_hz(data, written) == pytest.approx(TONE_HZ, rel=0.002)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tempo": 0.4}, "tempo must be between 50 % and 150 %"),
        ({"semitones": 7}, "from 6 semitones down to 6 up"),
        ({"fmt": "opus"}, re.escape(f"unknown format 'opus': choose {EXPORT_FORMAT_LABELS}.")),
    ],
)
def test_it_refuses_settings_out_of_range(tmp_path, options, message):
    source = tone(tmp_path / "tone.wav", seconds=0.5)
    with pytest.raises(audio.RenderError, match=message):
        audio.render(audio.RenderSpec(gains=[(source, 1.0)], **options), tmp_path / "out")


def click_track(path: Path, *, seconds: float, every_s: float = 0.5, rate: int = 48_000) -> Path:
    """Short noise bursts (2 ms) every ``every_s``, mono: a beat to find again."""
    data = np.zeros(int(seconds * rate), dtype=np.float32)
    burst = np.random.default_rng(0).uniform(-0.8, 0.8, 96).astype(np.float32)
    for start in range(0, len(data) - 96, int(every_s * rate)):
        data[start : start + 96] = burst
    sf.write(path, data, rate, subtype="PCM_24")
    return path


def click_errors_ms(data: np.ndarray, rate: int, *, every_s: float, tempo: float) -> np.ndarray:
    """Each click's onset in ``data`` (the first sample above 30 % of the loudest within
    100 ms of where it belongs) minus where the stretched grid puts it (n x every_s / tempo),
    in milliseconds."""
    envelope = np.abs(data).max(axis=1)
    window = int(0.1 * rate)
    errors = []
    for n in range(1, int(len(data) / rate * tempo / every_s) - 1):
        expected = n * every_s / tempo * rate
        low = int(expected) - window
        near = envelope[low : int(expected) + window]
        onset = low + int(np.argmax(near > 0.3 * near.max()))
        errors.append((onset - expected) / rate * 1000)
    return np.array(errors)


@pytest.mark.parametrize("tempo", [0.5, 1.5])
def test_the_clicks_of_a_3_minute_click_track_land_on_the_stretched_grid_within_10_ms(
    tmp_path, tempo
):
    """The streaming stretcher's start delay is compensated and nothing drifts: every click
    of 3 minutes, after the stretch, within 10 ms of n x 0.5 s / tempo."""
    source = click_track(tmp_path / "clicks.wav", seconds=180)
    spec = audio.RenderSpec(gains=[(source, 1.0)], tempo=tempo)
    rendered = audio.render(spec, tmp_path / "out")
    data, rate = sf.read(str(rendered.path), dtype="float32", always_2d=True)
    errors = click_errors_ms(data, rate, every_s=0.5, tempo=tempo)
    message = (
        f"tempo {tempo:.0%}: {len(errors)} clicks over 3 minutes, off the grid by at most "
        f"{np.abs(errors).max():.2f} ms (first {errors[0]:+.2f}, last {errors[-1]:+.2f}, "
        f"drift {errors[-1] - errors[0]:+.2f} ms); length {len(data)} frames, want "
        f"{round(180 * rate / tempo)}"
    )
    print(message)
    assert len(data) == round(180 * rate / tempo), message
    assert len(errors) >= 0.95 * 180 / 0.5, message  # every click of the song
    assert np.abs(errors).max() <= 10, message


@pytest.mark.parametrize(("tempo", "semitones"), [(0.5, 0), (0.75, 0), (1.0, 2), (1.5, -6)])
def test_a_tone_keeps_its_level_through_the_stretch_and_the_shift(tmp_path, tempo, semitones):
    """Formants move with the pitch, as in the player: a steady tone comes out as loud as
    it went in (within 0.5 dB), at the pitch asked for."""
    data, rate = render_tone(tmp_path, tempo=tempo, semitones=semitones)
    middle = data[len(data) // 4 : 3 * len(data) // 4]
    level = 20 * np.log10(np.sqrt(np.mean(middle**2)) / (0.3 / np.sqrt(2)))
    pitch = fundamental_hz(middle, rate) / (TONE_HZ * 2 ** (semitones / 12))
    message = f"tempo {tempo:.0%} key {semitones:+d}: level {level:+.2f} dB, pitch x{pitch:.4f}"
    print(message)
    assert abs(level) <= 0.5, message
    assert abs(pitch - 1) <= 0.005, message


def test_a_192_khz_song_is_written_at_48_khz_within_its_estimated_size(tmp_path):
    """The estimate (catalog.formats) takes the rate the export is written at: a WAV of a
    192 kHz song at 50 % is at most, and nearly, what it says."""
    from catalog.formats import export_sample_rate, get_export_format

    rate, seconds = 192_000, 3.0
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    source = tmp_path / "hires.flac"
    sf.write(source, np.stack([wave, wave], axis=1), rate, subtype="PCM_24")
    spec = audio.RenderSpec(gains=[(source, 1.0)], tempo=0.5, fmt="wav")
    rendered = audio.render(spec, tmp_path / "out")
    size = rendered.path.stat().st_size
    estimate = get_export_format("wav").bytes_for(
        seconds=seconds / 0.5, sample_rate=export_sample_rate(rate), channels=2
    )
    print(f"192 kHz, 3 s at 50 % as WAV: {size} bytes, estimated {estimate}")
    assert rendered.sample_rate == sf.info(str(rendered.path)).samplerate == 48_000
    assert 0.9 * estimate <= size <= estimate
