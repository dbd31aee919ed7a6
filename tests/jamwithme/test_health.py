"""`/health/`: the database, the channel layer and the storage, tried for real."""

import time

import pytest

from jamwithme import health

pytestmark = pytest.mark.django_db

ALL_OK = {"database": "ok", "channel_layer": "ok", "storage": "ok"}


def test_it_says_ok_to_anyone_when_everything_answers(client, private_media):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": ALL_OK}
    assert "no-cache" in response["Cache-Control"]
    # The probe file is gone again (its folder stays).
    assert list(private_media.rglob("*")) == [private_media / "health"]


def test_it_says_503_when_storage_cannot_be_written(client, settings, tmp_path):
    regular_file = tmp_path / "not-a-folder"
    regular_file.write_text("")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": regular_file / "media", "base_url": None},
        },
    }
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {**ALL_OK, "storage": "error"}}
    assert str(tmp_path) not in response.content.decode()


def test_it_says_503_when_the_channel_layers_redis_is_unreachable(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1}]
            },
        }
    }
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_OK, "channel_layer": "error"}
    assert "127.0.0.1" not in response.content.decode()


def test_it_says_503_when_the_database_fails(client, monkeypatch):
    def broken():
        raise OSError("the database is down")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"] == {**ALL_OK, "database": "error"}


def test_it_only_answers_reads(client):
    assert client.post("/health/").status_code == 405
    assert client.head("/health/").status_code == 200


def test_it_answers_plain_http_when_everything_else_is_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


def test_it_leaves_the_broker_out_in_the_embedded_mode(client, settings):
    settings.CELERY_BROKER_URL = ""
    assert "broker" not in client.get("/health/").json()["checks"]


def test_it_checks_the_broker_when_there_is_one(client, settings):
    settings.CELERY_BROKER_URL = "memory://"
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["checks"] == {**ALL_OK, "broker": "ok"}


def test_it_says_503_naming_the_broker_when_it_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/5"
    started = time.monotonic()
    response = client.get("/health/")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {**ALL_OK, "broker": "error"}}
    assert "127.0.0.1" not in response.content.decode()
