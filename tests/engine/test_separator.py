"""The engine with the real model and weights, on real singing over real instruments."""

import subprocess

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from catalog.stems import JAM_TRACK, STEM_NAMES, STEMS
from engine import FULL_BAND, SPLEETER_2STEMS, AudioError, weights

from .conftest import DATA, MIXTURES, load, tone

pytestmark = pytest.mark.model


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.sum((reference - estimate) ** 2)
    return float(10 * np.log10(np.sum(reference**2) / max(error, 1e-30)))


def band(signal: np.ndarray, low: float, high: float | None) -> np.ndarray:
    kind, edges = ("bandpass", [low, high]) if high else ("highpass", low)
    sos = scipy.signal.butter(8, edges, btype=kind, fs=44100, output="sos")
    return scipy.signal.sosfiltfilt(sos, signal, axis=0)


def energy_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(estimate**2) / np.sum(reference**2) + 1e-30))


@pytest.fixture(scope="module")
def spleeter_separator():
    from spleeter.model.provider import ModelProvider
    from spleeter.separator import Separator

    ModelProvider.DEFAULT_MODEL_PATH = str(weights.DEFAULT_MODEL_ROOT)  # offline: our checked copy
    return Separator("spleeter:2stems", multiprocess=False)


def test_it_matches_spleeter_itself_within_float_rounding(real_engine, spleeter_separator):
    mix = load(MIXTURES[0], "mix")
    theirs = spleeter_separator.separate(mix)
    ours = real_engine.with_plan(SPLEETER_2STEMS).separate_waveform(mix)
    for stem in ("vocals", "accompaniment"):
        assert ours[stem].shape == theirs[stem].shape
        assert np.max(np.abs(ours[stem] - theirs[stem])) < 1e-4
        assert sdr(theirs[stem], ours[stem]) > 80


def test_the_warm_model_gives_the_same_answer_every_time(real_engine):
    mix = load(MIXTURES[1], "mix")[: 44100 * 5]
    first = real_engine.separate_waveform(mix)["accompaniment"]
    second = real_engine.separate_waveform(mix)["accompaniment"]
    assert np.array_equal(first, second)


@pytest.mark.parametrize("plan", [FULL_BAND, SPLEETER_2STEMS], ids=["full-band", "spleeter"])
def test_processing_in_pieces_equals_processing_the_whole_song(real_engine, plan):
    # 40 s: three 512-frame pieces and a short last one, fed in odd-sized blocks.
    mix = np.concatenate([load(MIXTURES[0], "mix"), load(MIXTURES[1], "mix")])
    mix = np.concatenate([mix, mix[: 44100 * 8]])
    engine = real_engine.with_plan(plan)
    pieces = engine.separate_waveform(mix, block_frames=12_345, segments_per_piece=1)
    whole = engine.separate_waveform(mix, segments_per_piece=100)
    for stem in ("vocals", "accompaniment"):
        assert len(pieces[stem]) == len(mix)
        assert np.max(np.abs(pieces[stem] - whole[stem])) < 1e-6


@pytest.mark.parametrize("name", MIXTURES)
def test_the_jam_track_beats_the_unprocessed_mix_by_a_wide_margin(real_engine, name):
    mix, truth = load(name, "mix"), load(name, "accompaniment")
    estimate = real_engine.separate_waveform(mix)["accompaniment"]
    # Measured: +9.4 dB (dev1) and +9.7 dB (dev2) over the mix; random weights come nowhere near.
    assert sdr(truth, estimate) > sdr(truth, mix) + 6.0
    vocals = real_engine.separate_waveform(mix)["vocals"]
    assert sdr(load(name, "vocals"), vocals) > 6.0


@pytest.mark.parametrize("name", MIXTURES)
def test_the_jam_track_keeps_the_accompaniments_highs_where_spleeter_drops_them(real_engine, name):
    mix, truth = load(name, "mix"), load(name, "accompaniment")
    ours = real_engine.separate_waveform(mix)["accompaniment"]
    plain = real_engine.with_plan(SPLEETER_2STEMS).separate_waveform(mix)["accompaniment"]
    for low, high in ((11025, 16000), (16000, None)):
        true_band = band(truth, low, high)
        assert abs(energy_db(band(ours, low, high), true_band)) < 1.0
        assert sdr(true_band, band(ours, low, high)) > 15.0
        assert energy_db(band(plain, low, high), true_band) < -15.0  # Spleeter's 2stems: dull


def test_vocals_and_jam_track_add_up_to_the_mix(real_engine):
    mix = load(MIXTURES[0], "mix")
    out = real_engine.separate_waveform(mix)
    assert np.max(np.abs(out["vocals"] + out["accompaniment"] - mix)) < 1e-5


def test_a_file_comes_back_at_its_own_rate_and_channel_count(real_engine, tmp_path):
    mix = load(MIXTURES[0], "mix").mean(axis=1)
    import soxr

    source = tmp_path / "mono48k.wav"
    sf.write(source, soxr.resample(mix, 44100, 48000), 48000, subtype="PCM_24")
    seen = []
    result = real_engine.separate_file(source, tmp_path / "out", progress=seen.append)
    for path in result.stems.values():
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (48000, 1, "PCM_24")
        assert info.frames == sf.info(source).frames
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    truth = soxr.resample(load(MIXTURES[0], "accompaniment").mean(axis=1), 44100, 48000)
    jam, _ = sf.read(result.stems[JAM_TRACK], dtype="float32")
    assert sdr(truth, jam) > sdr(truth, sf.read(source, dtype="float32")[0]) + 6.0


def test_a_hot_master_is_never_clipped(real_engine, tmp_path):
    mix = load(MIXTURES[1], "mix")
    hot = mix / np.max(np.abs(mix)) * 0.999
    source = tmp_path / "hot.flac"
    sf.write(source, hot, 44100, subtype="PCM_16")
    result = real_engine.separate_file(source, tmp_path / "out")
    for path in result.stems.values():
        audio, _ = sf.read(path, dtype="float32")
        assert np.max(np.abs(audio)) < 1.0
        assert np.mean(np.abs(audio) > 0.99) < 1e-4  # no run of clipped samples


def test_the_result_names_the_registrys_stems_in_the_spleeter_clis_files(real_engine, tmp_path):
    source = tmp_path / "song.flac"
    sf.write(source, load(MIXTURES[0], "mix")[: 44100 * 3], 44100)
    out = tmp_path / "out"
    result = real_engine.separate_file(source, out)
    assert tuple(result.stems) == STEM_NAMES == ("instrumental", "vocals")
    assert result.stems == {
        "instrumental": out / "accompaniment.wav",
        "vocals": out / "vocals.wav",
    }
    assert sorted(p.name for p in out.iterdir()) == ["accompaniment.wav", "vocals.wav"]
    for stem in STEMS:
        assert sf.info(result.stems[stem.name]).frames == 44100 * 3
    assert (result.info.container, result.info.codec) == ("flac", "pcm_16")


def test_an_m4a_result_describes_the_upload_not_ffmpegs_decoded_copy(real_engine, tmp_path):
    import imageio_ffmpeg

    wav = tmp_path / "source.wav"
    sf.write(wav, load(MIXTURES[0], "mix")[: 44100 * 2], 44100)
    m4a = tmp_path / "song.m4a"
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    result = real_engine.separate_file(m4a, tmp_path / "out")
    assert (result.info.container, result.info.codec, result.info.label) == (
        "m4a",
        "aac",
        "M4A (AAC)",
    )
    assert all(path.is_file() for path in result.stems.values())


def test_a_bad_file_is_refused_and_leaves_nothing_behind(real_engine, tmp_path):
    source = tmp_path / "fake.wav"
    source.write_text("not audio")
    out = tmp_path / "out"
    with pytest.raises(AudioError, match="not an audio file"):
        real_engine.separate_file(source, out)
    assert not out.exists() or not any(out.iterdir())


def test_silence_is_refused(real_engine, tmp_path):
    source = tmp_path / "silence.wav"
    sf.write(source, np.zeros((44100, 2), dtype=np.float32), 44100)
    with pytest.raises(AudioError, match="silent"):
        real_engine.separate_file(source, tmp_path / "out")
    assert not (tmp_path / "out" / "accompaniment.wav").exists()


def test_a_song_over_the_configured_length_is_refused_with_a_clear_message(real_engine, tmp_path):
    source = tmp_path / "long.wav"
    sf.write(source, tone(3.0), 44100)
    with pytest.raises(AudioError, match=r"long.wav: 0:03 long; the limit is 0:02"):
        real_engine.separate_file(source, tmp_path / "out", max_duration_s=2)


def test_the_separate_command_finishes_good_songs_and_fails_on_bad_ones(tmp_path, capsys):
    from django.core.management import CommandError, call_command

    bad = tmp_path / "broken.wav"
    bad.write_text("nope")
    with pytest.raises(CommandError, match="1 of 2 songs could not be separated"):
        call_command("separate", str(DATA / MIXTURES[0] / "mix.flac"), str(bad), out=tmp_path)
    captured = capsys.readouterr()
    assert "broken.wav: not an audio file we can read" in captured.err
    assert "mix.flac: 16.0 s of audio in" in captured.out
    assert f"-> {tmp_path / 'mix'}/" in captured.out
    jam = tmp_path / "mix" / "accompaniment.wav"
    assert sf.info(jam).frames == 705600
    assert sf.info(tmp_path / "mix" / "vocals.wav").frames == 705600


def test_a_hostile_song_name_cannot_write_outside_the_output_folder(real_engine, tmp_path):
    from django.core.management import call_command

    song = tmp_path / "in" / "...wav"
    song.parent.mkdir()
    song.write_bytes((DATA / MIXTURES[0] / "mix.flac").read_bytes())
    out = tmp_path / "deep" / "out"
    call_command("separate", str(song), out=out, max_duration=0)
    assert sorted(p.name for p in out.iterdir()) == ["song"]
    assert not (tmp_path / "deep" / "accompaniment.wav").exists()


def test_the_cleaner_quality_leaves_less_of_the_singer_and_comes_closer_to_the_instrumental(
    real_engine, tmp_path
):
    """The figures of bench/postfilter.py, on the dev mixtures' true stems."""
    for name in MIXTURES:
        truth, vocals = load(name, "accompaniment"), load(name, "vocals")
        measured = {}
        for quality in ("standard", "cleaner"):
            result = real_engine.separate_file(
                DATA / name / "mix.flac", tmp_path / quality / name, quality=quality
            )
            jam, _ = sf.read(result.stems["instrumental"], dtype="float32")
            error = np.sum((truth - jam) ** 2)
            sdr = 10 * np.log10(np.sum(truth**2) / error)
            measured[quality] = (sdr, float(np.sum(jam * vocals) / np.sum(vocals * vocals)))
        print(name, measured)
        assert measured["cleaner"][0] > measured["standard"][0]  # closer to the instrumental
        assert measured["cleaner"][1] < measured["standard"][1]  # less of the singer


def test_an_unknown_quality_is_refused_before_anything_is_read(real_engine, tmp_path):
    with pytest.raises(ValueError, match="unknown quality 'best': one of standard, cleaner"):
        real_engine.separate_file(DATA / MIXTURES[0] / "mix.flac", tmp_path, quality="best")
    assert not any(tmp_path.iterdir())


def test_the_separate_command_makes_a_cleaner_jam_track_when_asked(tmp_path):
    from django.core.management import call_command

    song = DATA / MIXTURES[0] / "mix.flac"
    for quality in ("standard", "cleaner"):
        call_command("separate", str(song), out=tmp_path / quality, quality=quality)
    standard, cleaner = (
        sf.read(tmp_path / quality / "mix" / "accompaniment.wav")[0]
        for quality in ("standard", "cleaner")
    )
    assert standard.shape == cleaner.shape
    assert 0.0005 < np.max(np.abs(standard - cleaner)) < 0.5  # a filter, not another song
