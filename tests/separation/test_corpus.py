"""The hostile-file corpus (tests/corpus.py) against the upload, the worker and ``separate``.

Every file gets a one-line reason that names it, and leaves nothing behind: no track, no
job, no stored file, no ``jamwithme-*`` folder in the temporary directory.
"""

import tempfile

import pytest
from django.core.management import CommandError, call_command

from separation.models import SeparationJob
from tests import corpus, fakes
from tests.separation.test_upload import post_file, stored_files
from tracks.models import Track

CASES = corpus.cases()
REFUSED = [case for case in CASES if case.stage == "upload"]
LYING = [case for case in CASES if case.stage == "worker"]
HARMLESS = [case for case in CASES if case.stage == "ok"]
JSON = {"HTTP_ACCEPT": "application/json"}


def by_name(cases):
    return pytest.mark.parametrize("case", cases, ids=[case.name for case in cases])


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """A temporary directory of the test's own, checked for leftovers afterwards."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("TMPDIR", str(tmp))
    yield tmp
    assert sorted(p.name for p in tmp.glob("jamwithme-*")) == []


def write(case, directory):
    path = directory / case.name
    path.write_bytes(case.data)
    return path


def assert_one_line_naming(message: str, case) -> None:
    assert case.name in message
    assert "\n" not in message.strip()
    assert "Traceback" not in message


def test_the_corpus_is_big_and_varied():
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)
    assert REFUSED and LYING and HARMLESS


@by_name(REFUSED)
def test_the_upload_refuses_it_from_the_header(alice_client, tmp_path, private_media, case):
    response = post_file(alice_client, write(case, tmp_path), **JSON)
    assert response.status_code == 400
    [message] = response.json()["errors"]
    if case.data:  # an empty file is Django's form's to refuse ("The submitted file is empty.")
        assert_one_line_naming(message, case)
    assert not Track.objects.exists()
    assert not SeparationJob.objects.exists()
    assert stored_files(private_media) == []


@by_name(LYING + HARMLESS)
def test_the_upload_takes_it_when_the_header_is_fine(alice_client, tmp_path, case):
    response = post_file(alice_client, write(case, tmp_path), **JSON)
    assert response.status_code == 201, response.content
    assert Track.objects.get().job.status == SeparationJob.Status.QUEUED


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
def test_the_worker_fails_each_lying_file_and_carries_on(alice_client, tmp_path, private_media):
    for case in LYING:
        assert post_file(alice_client, write(case, tmp_path), **JSON).status_code == 201
    good = fakes.write_wav(tmp_path / "good.wav", seconds=2.0)
    assert post_file(alice_client, good, **JSON).status_code == 201
    call_command("separation_worker", "--once")
    for case in LYING:
        job = SeparationJob.objects.get(track__original_filename=case.name)
        assert job.status == SeparationJob.Status.FAILED, case.name
        assert_one_line_naming(job.error, case)
        assert "went wrong" not in job.error  # the reason, not the generic message
    assert SeparationJob.objects.get(track__original_filename="good.wav").status == "done"
    silent = SeparationJob.objects.get(track__original_filename="silent.wav")
    assert "silent" in silent.error
    truncated = SeparationJob.objects.get(track__original_filename="cut-mid-stream.mp3")
    assert "the file is truncated" in truncated.error
    # Only the good track's files (original, stems, waveforms) are kept.
    kept = {path.parent.name for path in stored_files(private_media) if "-" in path.name}
    assert len(kept) == 1


@pytest.mark.model
@by_name(REFUSED + LYING)
def test_separate_prints_only_the_one_line_reason(tmp_path, capfd, case):
    out = tmp_path / "out"
    with pytest.raises(CommandError) as error:
        call_command("separate", str(write(case, tmp_path)), out=out)
    assert_one_line_naming(str(error.value), case)
    # Nothing on fd 2 (no libmpg123 chatter) but the progress bar of a file that decoded.
    noise = [line for line in capfd.readouterr().err.splitlines() if "%" not in line]
    assert noise == []
    assert not [path for path in out.rglob("*") if path.is_file()] if out.exists() else True


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
def test_an_mp3_whose_length_ffmpeg_only_estimates_is_separated_whole(
    alice_client, tmp_path, private_media
):
    """No Xing header and a bit rate that drops after 2 s: ffmpeg guesses about 4 s for a
    22 s song. The guess bounds nothing; the upload's limits bound every decode."""
    loud = corpus._ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2"),
        *("-c:a", "libmp3lame", "-b:a", "320k", "-write_xing", "0", "-id3v2_version", "0"),
        *("-f", "mp3"),
    )
    long_quiet = corpus._ffmpeg(
        *("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100:duration=20"),
        *("-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", "0", "-id3v2_version", "0"),
        *("-f", "mp3"),
    )
    path = tmp_path / "vbr without xing.mp3"
    path.write_bytes(loud + long_quiet)
    assert post_file(alice_client, path, **JSON).status_code == 201
    call_command("separation_worker", "--once")
    job = SeparationJob.objects.get()
    assert (job.status, job.error) == ("done", ""), job.error
