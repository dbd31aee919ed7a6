import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import soundfile as sf

from engine import AudioError, Limits, format_label, probe, waveform_peaks

from .conftest import tone

FORMATS = [  # (file, soundfile options, container, codec, label)
    ("song.wav", {"subtype": "PCM_16"}, "wav", "pcm_16", "WAV 16-bit"),
    ("song.wav", {"subtype": "PCM_24"}, "wav", "pcm_24", "WAV 24-bit"),
    ("song.wav", {"subtype": "PCM_32"}, "wav", "pcm_32", "WAV 32-bit"),
    ("song.wav", {"subtype": "FLOAT"}, "wav", "float", "WAV 32-bit float"),
    ("song.flac", {}, "flac", "pcm_16", "FLAC"),
    ("song.ogg", {}, "ogg", "vorbis", "Ogg Vorbis"),
    ("song.opus", {"format": "OGG", "subtype": "OPUS"}, "ogg", "opus", "Ogg Opus"),
    ("song.mp3", {}, "mp3", "mp3", "MP3"),  # written by libsndfile, read through ffmpeg
    ("song.aiff", {"subtype": "PCM_16"}, "aiff", "pcm_16", "AIFF 16-bit"),
]


@pytest.mark.parametrize(("name", "options", "container", "codec", "label"), FORMATS)
def test_it_reads_every_format_libsndfile_knows(tmp_path, name, options, container, codec, label):
    path = tmp_path / name
    rate = 48000 if options.get("subtype") == "OPUS" else 44100  # Opus has no 44.1 kHz
    sf.write(path, tone(2.0, rate=rate), rate, **options)
    info = probe(path)
    assert (info.container, info.codec, info.label) == (container, codec, label)
    assert info.sample_rate == rate
    assert info.channels == 2
    assert info.duration_s == pytest.approx(2.0, abs=0.06)  # mp3 adds a little padding


def encode(source, target, *options: str) -> None:
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-v", "error", "-i", str(source), *options, str(target)], check=True)


FFMPEG_FORMATS = [  # (file, ffmpeg options, container, codec, label)
    ("song.m4a", ("-c:a", "aac"), "m4a", "aac", "M4A (AAC)"),
    ("song.m4a", ("-c:a", "alac"), "m4a", "alac", "M4A (ALAC)"),
    ("song.mp4", ("-c:a", "aac"), "m4a", "aac", "M4A (AAC)"),
    ("song.aac", ("-c:a", "aac", "-f", "adts"), "aac", "aac", "AAC"),
    ("song.wma", ("-c:a", "wmav2"), "asf", "wmav2", "ASF"),
]


@pytest.mark.parametrize(("name", "options", "container", "codec", "label"), FFMPEG_FORMATS)
def test_it_reads_other_formats_through_the_bundled_ffmpeg_and_says_what_they_were(
    tmp_path, name, options, container, codec, label
):
    wav = tmp_path / "source.wav"
    sf.write(wav, tone(2.0, rate=48000), 48000)
    path = tmp_path / name
    encode(wav, path, *options)
    info = probe(path)
    assert (info.container, info.codec, info.label) == (container, codec, label)
    assert (info.sample_rate, info.channels) == (48000, 2)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)


def test_a_truncated_m4a_is_refused_with_ffmpegs_reason_and_no_path(tmp_path):
    wav = tmp_path / "source.wav"
    sf.write(wav, tone(4.0), 44100)
    whole = tmp_path / "whole.m4a"
    encode(wav, whole, "-c:a", "aac", "-movflags", "+faststart")
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(
        AudioError, match=r"^cut\.m4a: the (audio is damaged or truncated|file is truncated)"
    ) as error:
        probe(cut)
    assert str(tmp_path) not in str(error.value)


@pytest.mark.parametrize(
    ("container", "codec", "label"),
    [
        ("wav", "pcm_s16le", "WAV 16-bit"),  # ffmpeg's names for the same codecs
        ("wav", "pcm_f32le", "WAV 32-bit float"),
        ("wav", "double", "WAV 64-bit float"),
        ("wav", "pcm_u8", "WAV 8-bit"),
        ("aiff", "pcm_24", "AIFF 24-bit"),
        ("wav", "ms_adpcm", "WAV"),
        ("wav", "mpeg_layer_iii", "WAV (MP3)"),
        ("ogg", "flac", "Ogg FLAC"),
        ("ogg", "speex", "Ogg"),
        ("flac", "pcm_24", "FLAC"),
        ("mp3", "mp3", "MP3"),
        ("m4a", "mp3", "M4A (MP3)"),
        ("m4a", "unknown", "M4A"),
        ("matroska", "opus", "MATROSKA"),
        ("WAV", "PCM_16", "WAV 16-bit"),
        ("unknown", "unknown", "Unknown format"),
        ("", "", "Unknown format"),
    ],
)
def test_format_label_names_what_people_know(container, codec, label):
    assert format_label(container, codec) == label


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
    with pytest.raises(AudioError, match=r"^cut\.flac: the file is truncated \(its header prom"):
        probe(path)


def test_the_header_check_decodes_nothing_and_applies_the_limits(tmp_path):
    path = tmp_path / "hires.flac"
    sf.write(path, tone(2.0, rate=192000), 192000)
    info = probe(path, scan=False)
    assert (info.sample_rate, info.frames) == (192000, 384000)
    with pytest.raises(AudioError, match=r"^hires\.flac: unsupported sample rate 192000 Hz"):
        probe(path, scan=False, limits=Limits(max_sample_rate=96000))
    with pytest.raises(AudioError, match=r"^hires\.flac: too much audio to process: 0:02 at"):
        probe(path, scan=False, limits=Limits(max_samples=700_000))


def test_a_damaged_mp3_says_nothing_on_stderr(tmp_path, capfd):
    """libmpg123 (inside libsndfile) would print to fd 2; MP3 goes through ffmpeg instead."""
    from tests import corpus

    for case in corpus.cases():
        if case.name in {"garbage-after-id3.mp3", "cut-mid-stream.mp3", "mp3-in-wav-damaged.wav"}:
            path = tmp_path / case.name
            path.write_bytes(case.data)
            with pytest.raises(AudioError, match=f"^{case.name}: "):
                probe(path)
    assert capfd.readouterr().err == ""


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
