"""The bucket's multipart API, for uploads that go from the browser straight to the bucket
and for the debris of multipart uploads nobody finished. Only when default storage is an
S3-compatible bucket (django-storages' S3Storage); local storage has none of this.

The web node signs (create, one URL per part) and completes; the browser PUTs the parts
to the bucket itself. `multipart_abort_stale` is the sweep's chore: a worker or web node
killed mid-upload leaves an incomplete upload that the bucket keeps (and bills) for ever.
"""

import contextlib
import logging
import weakref
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

logger = logging.getLogger(__name__)

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's least part size (all but the last)
MAX_PARTS = 10_000  # S3's most parts in one upload
PART_BYTES = 8 * 1024 * 1024  # ours, unless a file needs larger parts to fit in MAX_PARTS
# A header probe reads this much of each end of an upload (an MP4's index may be at the end).
PROBE_HEAD_BYTES = 1024 * 1024
PROBE_TAIL_BYTES = 1024 * 1024


S3_BACKEND = "storages.backends.s3.S3Storage"


def enabled() -> bool:
    """Default storage is a bucket whose multipart API we can sign for. Read from the
    settings: touching the storage's `connection` would build a boto3 session (~0.1 s of
    CPU) in every request's thread."""
    return settings.STORAGES["default"]["BACKEND"] == S3_BACKEND


def _storage():
    return default_storage  # lazy: settings.STORAGES as it is now (tests change it)


# One client per storage object, for every thread: django-storages keeps a connection per
# thread, and Django runs each request's sync code in a thread of its own, so its client
# would be built anew (a boto3 session, ~0.1 s of CPU) for every signing request. boto3's
# clients are thread-safe.
_CLIENTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _client():
    lazy = _storage()
    lazy.bucket_name  # noqa: B018 (sets the lazy storage up: `_wrapped` is the S3Storage)
    storage = getattr(lazy, "_wrapped", lazy)
    client = _CLIENTS.get(storage)
    if client is None:
        client = _CLIENTS[storage] = storage.connection.meta.client
    return client


def _bucket() -> str:
    return _storage().bucket_name


def key(name: str) -> str:
    """The bucket key of a storage name (the storage's location, if any, in front)."""
    return _storage()._normalize_name(name)


def part_size(size: int) -> int:
    """The part size for a file of ``size`` bytes: PART_BYTES, or more when it would take
    more than MAX_PARTS parts (static/js/upload.js counts parts the same way)."""
    needed = -(-size // MAX_PARTS)
    return max(PART_BYTES, MIN_PART_BYTES, needed)


def part_count(size: int, each: int) -> int:
    return max(1, -(-size // each))


def part_length(number: int, each: int, size: int) -> int:
    """The bytes in part ``number`` (from 1) of a file of ``size`` in parts of ``each``."""
    return max(0, min(each, size - (number - 1) * each))


def create(name: str, content_type: str) -> str:
    """Start a multipart upload of ``name``; returns its upload id."""
    answer = _client().create_multipart_upload(
        Bucket=_bucket(), Key=key(name), ContentType=content_type
    )
    return answer["UploadId"]


def part_url(name: str, upload_id: str, number: int, length: int) -> str:
    """A URL the browser PUTs part ``number`` to, valid for JAM_DIRECT_UPLOAD_URL_EXPIRE_S.
    Its ``length`` is signed too: the bucket refuses a part of any other size, so a URL
    cannot be used to store more than the file the user said (moto does not check)."""
    return _client().generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": _bucket(),
            "Key": key(name),
            "UploadId": upload_id,
            "PartNumber": number,
            "ContentLength": length,
        },
        ExpiresIn=settings.JAM_DIRECT_UPLOAD_URL_EXPIRE_S,
    )


def parts(name: str, upload_id: str) -> list[dict] | None:
    """The parts the bucket holds of an upload ({"PartNumber", "ETag", "Size"}), in order;
    None when there is no such upload (completed or aborted)."""
    client = _client()
    found, marker = [], 0
    while True:
        try:
            answer = client.list_parts(
                Bucket=_bucket(), Key=key(name), UploadId=upload_id, PartNumberMarker=marker
            )
        except client.exceptions.NoSuchUpload:
            return None
        found.extend(answer.get("Parts", []))
        if not answer.get("IsTruncated"):
            return found
        marker = answer["NextPartNumberMarker"]


def complete(name: str, upload_id: str, listed: list[dict]) -> None:
    """Join the parts the bucket lists into the object."""
    _client().complete_multipart_upload(
        Bucket=_bucket(),
        Key=key(name),
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in listed]
        },
    )


def abort(name: str, upload_id: str) -> None:
    client = _client()
    with contextlib.suppress(client.exceptions.NoSuchUpload):
        client.abort_multipart_upload(Bucket=_bucket(), Key=key(name), UploadId=upload_id)


def abort_all_of(name: str) -> int:
    """Abort every incomplete multipart upload of exactly ``name`` (a storing worker's own,
    after it failed mid-way). Returns how many. Never raises: it cleans up after a failure."""
    if not enabled():
        return 0
    try:
        uploads = _listed_uploads(prefix=key(name))
        mine = [upload for upload in uploads if upload["Key"] == key(name)]
        for upload in mine:
            abort(name, upload["UploadId"])
    except Exception:  # already failing: the sweep gets whatever is left
        logger.warning("Could not abort the multipart uploads of %s", name, exc_info=True)
        return 0
    return len(mine)


def size_of(name: str) -> int | None:
    """The stored object's size, or None when it is not there."""
    client = _client()
    try:
        return client.head_object(Bucket=_bucket(), Key=key(name))["ContentLength"]
    except client.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def probe_copy(name: str, size: int, local: Path) -> Path:
    """A local stand-in for a stored object that a header probe can read: the object's first
    and last bytes (two range reads) at their places in a sparse file of the object's size.
    Headers (WAV, FLAC, MP3 frames and tags, an MP4's index at either end) are all there;
    what lies between reads as zeros, and only the worker's full decode reads it."""
    client = _client()
    with open(local, "wb") as target:
        head_end = min(size, PROBE_HEAD_BYTES) - 1
        head = client.get_object(Bucket=_bucket(), Key=key(name), Range=f"bytes=0-{head_end}")
        target.write(head["Body"].read())
        tail_start = max(head_end + 1, size - PROBE_TAIL_BYTES)
        if tail_start < size:
            tail = client.get_object(
                Bucket=_bucket(), Key=key(name), Range=f"bytes={tail_start}-{size - 1}"
            )
            target.seek(tail_start)
            target.write(tail["Body"].read())
        target.truncate(size)
    return local


def _listed_uploads(prefix: str) -> list[dict]:
    client = _client()
    found: list[dict] = []
    params = {"Bucket": _bucket(), "Prefix": prefix}
    while True:
        answer = client.list_multipart_uploads(**params)
        found.extend(answer.get("Uploads", []))
        if not answer.get("IsTruncated"):
            return found
        params["KeyMarker"] = answer["NextKeyMarker"]
        params["UploadIdMarker"] = answer["NextUploadIdMarker"]


def multipart_abort_stale(*, older_than_h: float | None = None) -> int:
    """Abort the incomplete multipart uploads under our media prefix started more than
    ``older_than_h`` hours ago (JAM_MULTIPART_ABORT_AFTER_H): what a worker or web node killed
    mid-upload, or a browser that never came back, left. A chore of every worker's sweep;
    the bucket's lifecycle rule (docs/deploy.md) does the same on its own. Returns how many."""
    if not enabled():
        return 0
    hours = settings.JAM_MULTIPART_ABORT_AFTER_H if older_than_h is None else older_than_h
    cutoff = timezone.now() - timedelta(hours=hours)
    aborted = 0
    for upload in _listed_uploads(prefix=key("tracks/")):
        if upload["Initiated"] > cutoff:
            continue
        _client().abort_multipart_upload(
            Bucket=_bucket(), Key=upload["Key"], UploadId=upload["UploadId"]
        )
        aborted += 1
    if aborted:
        logger.warning("Aborted %d incomplete multipart upload(s) older than %gh", aborted, hours)
    return aborted
