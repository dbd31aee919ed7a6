"""The S3 server the storage tests run against: moto's, on a free loopback port."""

import uuid

import boto3
import pytest

from jamwithme.env import s3_storage_from_env

KEY, SECRET, REGION = "testing-key", "testing-secret", "eu-central-1"


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto's) on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def bucket(settings, monkeypatch, s3, s3_endpoint):
    """A fresh bucket, and default storage pointed at it exactly as settings.py would."""
    name = f"jam-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    for variable, value in {
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",
        "AWS_S3_ACCESS_KEY_ID": KEY,
        "AWS_S3_SECRET_ACCESS_KEY": SECRET,
        "JAM_S3_URL_EXPIRE_S": "60",
    }.items():
        monkeypatch.setenv(variable, value)
    settings.STORAGES = {**settings.STORAGES, "default": s3_storage_from_env(name)}
    yield name
    objects = s3.list_objects_v2(Bucket=name).get("Contents", [])
    for listed in objects:
        s3.delete_object(Bucket=name, Key=listed["Key"])
    s3.delete_bucket(Bucket=name)
