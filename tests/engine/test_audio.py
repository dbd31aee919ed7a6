import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from separation.engine import AudioError, probe, waveform_peaks

from .conftest import tone

FORMATS = [
    ("song.wav", {"subtype": "PCM_16"}, "WAV PCM_16"),
    ("song.wav", {"subtype": "PCM_24"}, "WAV PCM_24"),
    ("song.wav", {"subtype": "FLOAT"}, "WAV FLOAT"),
    ("song.flac", {}, "FLAC PCM_16"),
    ("song.ogg", {}, "OGG VORBIS"),
    ("song.mp3", {}, "MP3 MPEG_LAYER_III"),
    ("song.aiff", {"subtype": "PCM_16"}, "AIFF PCM_16"),
]


@pytest.mark.parametrize(("name", "options", "described"), FORMATS)
def test_it_reads_every_format_libsndfile_knows(tmp_path, name, options, described):
    path = tmp_path / name
    sf.write(path, tone(2.0), 44100, **options)
    info = probe(path)
    assert info.format == described
    assert info.sample_rate == 44100
    assert info.channels == 2
    assert info.duration_s == pytest.approx(2.0, abs=0.06)  # mp3 adds a little padding


def test_it_reads_m4a_aac_through_the_bundled_ffmpeg(tmp_path):
    wav = tmp_path / "source.wav"
    sf.write(wav, tone(2.0, rate=48000), 48000)
    m4a = tmp_path / "song.m4a"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)],
        check=True,
    )
    info = probe(m4a)
    assert info.format == "decoded by ffmpeg"
    assert (info.sample_rate, info.channels) == (48000, 2)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (22050, 2), (48000, 1), (96000, 2)])
def test_it_accepts_any_sample_rate_mono_or_stereo(tmp_path, rate, channels):
    path = tmp_path / "song.wav"
    sf.write(path, tone(1.0, rate=rate, channels=channels), rate)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames) == (rate, channels, rate)


def test_it_refuses_text_named_wav(tmp_path):
    path = tmp_path / "song.wav"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match=r"song\.wav: not an audio file we can read"):
        probe(path)


def test_messages_use_the_name_given_for_the_file(tmp_path):
    path = tmp_path / "tmp8f3k2.upload.wav"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match=r"^My Song\.wav: not an audio file"):
        probe(path, name="My Song.wav")


def test_it_refuses_an_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="the file is empty"):
        probe(path)


def test_it_refuses_a_wav_with_a_header_and_no_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), 44100)
    with pytest.raises(AudioError, match="holds no audio"):
        probe(path)


def test_it_spots_a_truncated_wav(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(2.0), 44100, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        probe(path)


def test_it_spots_a_truncated_flac(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, tone(4.0) + 0.01 * np.random.default_rng(0).standard_normal((176400, 2)), 44100)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="damaged or truncated"):
        probe(path)


def test_it_refuses_silence(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((44100, 2), dtype=np.float32), 44100)
    with pytest.raises(AudioError, match="silent"):
        probe(path)


def test_it_refuses_more_than_two_channels_with_a_reason(tmp_path):
    path = tmp_path / "surround.wav"
    sf.write(path, tone(1.0, channels=6), 44100)
    with pytest.raises(AudioError, match="6 channels; only mono and stereo"):
        probe(path)


def test_a_missing_file_is_an_audio_error_not_a_traceback(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        probe(tmp_path / "gone.wav")


def test_waveform_peaks_follow_the_signal(tmp_path):
    path = tmp_path / "song.wav"
    quiet_then_loud = np.concatenate([np.full((44100, 2), 0.1), np.full((44100, 2), -0.8)])
    sf.write(path, quiet_then_loud.astype(np.float32), 44100, subtype="FLOAT")
    peaks = waveform_peaks(path, width=10)
    assert peaks.shape == (10, 2)
    assert np.allclose(peaks[:5], [0.0, 0.1], atol=1e-6)
    assert np.allclose(peaks[5:], [-0.8, 0.0], atol=1e-6)
