"""Build tracks through the real services, so tests start from states the app can reach."""

import shutil
import uuid
from pathlib import Path

from django.core.files.uploadedfile import TemporaryUploadedFile

from jobs.runner import job_run
from jobs.services import job_claim
from jobs.state import worker_identity
from separation.kind import SEPARATION
from separation.services.dispatch import track_submit
from tests import fakes


def temporary_upload(path: Path, name: str | None = None) -> TemporaryUploadedFile:
    """What LimitedTemporaryFileUploadHandler hands to the view for a file on disk."""
    upload = TemporaryUploadedFile(
        name or path.name, "application/octet-stream", path.stat().st_size, None
    )
    with open(path, "rb") as source:
        shutil.copyfileobj(source, upload.file)
    upload.file.flush()
    upload.seek(0)
    return upload


def make_track(
    *,
    owner,
    tmp_path: Path,
    title: str = "Song",
    separated: bool = False,
    seconds: float = 1.0,
    source: Path | None = None,
):
    """A track of a tone lasting ``seconds``, or of the song in ``source`` (tests/data);
    ``separated`` by the fake engine, which halves the song into each stem."""
    if source is None:
        source = fakes.write_wav(tmp_path / f"{uuid.uuid4().hex}.wav", seconds=seconds)
    upload = temporary_upload(source, f"{title}{source.suffix}")
    track = track_submit(owner=owner, upload=upload, title=title)
    upload.close()
    if separated:
        worker_id = worker_identity()
        job = job_claim(SEPARATION, job_id=track.job.id, worker_id=worker_id)
        job_run(SEPARATION, job=job, worker_id=worker_id, engine=fakes.FakeEngine())
        track.refresh_from_db()
        track.job.refresh_from_db()
    return track


def make_band(*, owner, name: str = "The Band", admins=(), members=()):
    """A band with its owner, admins and members, written directly (bands' own services are
    tested in tests/bands)."""
    from bands.models import Band, Membership

    band = Band.objects.create(name=name)
    Membership.objects.create(band=band, user=owner, role=Membership.Role.OWNER)
    for user in admins:
        Membership.objects.create(band=band, user=user, role=Membership.Role.ADMIN)
    for user in members:
        Membership.objects.create(band=band, user=user, role=Membership.Role.MEMBER)
    return band
