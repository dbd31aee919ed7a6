"""Fault test: a frozen bucket — an S3 endpoint on loopback that accepts connections and never
answers. Readiness says degraded (the storage check timed out or failed on its short
botocore timeouts), liveness is fine, and pages are still served."""

import socket
import uuid

import pytest
from django.urls import reverse

from jamwithme.env import s3_storage_from_env
from tests.tracks import conftest as s3_fixtures

pytestmark = pytest.mark.django_db
# A bucket that answers: moto's S3 server on loopback (tests/tracks/conftest.py).
s3_endpoint, s3, bucket = s3_fixtures.s3_endpoint, s3_fixtures.s3, s3_fixtures.bucket


@pytest.fixture
def frozen_bucket(settings, monkeypatch):
    """Default storage pointed, as settings.py would, at an endpoint that never answers: a
    listening socket nobody reads (the kernel completes each connection, nothing replies)."""
    frozen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(64)
    host, port = frozen.getsockname()
    for variable, value in {
        "AWS_S3_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_S3_REGION_NAME": "eu-central-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_ACCESS_KEY_ID": "testing-key",
        "AWS_S3_SECRET_ACCESS_KEY": "testing-secret",
    }.items():
        monkeypatch.setenv(variable, value)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": s3_storage_from_env(f"jam-{uuid.uuid4().hex[:12]}"),
    }
    yield frozen
    frozen.close()


def test_a_frozen_bucket_makes_the_node_degraded_not_dead_and_pages_still_serve(
    frozen_bucket, alice_client
):
    ready = alice_client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["storage"] in ("timeout", "error")

    assert alice_client.get("/health/live").status_code == 200
    assert alice_client.get("/health/").status_code == 200
    assert alice_client.get(reverse("tracks:library")).status_code == 200


@pytest.mark.s3
def test_a_bucket_that_answers_makes_readiness_ok_and_keeps_no_probe_object(
    alice_client, bucket, s3
):
    response = alice_client.get("/health/ready")
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "channel_layer": "ok", "storage": "ok"},
    }
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
