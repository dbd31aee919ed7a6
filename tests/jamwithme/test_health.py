"""`/health/live`, `/health/ready` and `/health/` (= ready): the database, the channel layer,
the storage and the broker tried for real, at once, each with its deadline; only the database
is required (503), any other failure leaves the node degraded (200)."""

import threading

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


def test_a_storage_that_cannot_be_written_leaves_the_node_ready_but_degraded(
    client, settings, tmp_path
):
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
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": {**ALL_OK, "storage": "error"}}
    assert str(tmp_path) not in response.content.decode()


def test_an_unreachable_channel_layer_redis_leaves_the_node_ready_but_degraded(client, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": "redis://127.0.0.1:1/0", "socket_connect_timeout": 1}]
            },
        }
    }
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "checks": {**ALL_OK, "channel_layer": "error"}}
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


def test_an_unreachable_broker_leaves_the_node_ready_but_degraded(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/5"
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"] in ("error", "timeout")
    assert "127.0.0.1" not in response.content.decode()


def test_readiness_and_the_old_address_give_the_same_answer(client):
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == client.get("/health/").json() == {"status": "ok", "checks": ALL_OK}


def test_liveness_asks_no_dependency(client, monkeypatch):
    def broken():
        raise OSError("the database is down")

    monkeypatch.setitem(health.CHECKS, "database", broken)
    assert client.get("/health/ready").status_code == 503
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_a_check_that_hangs_is_reported_as_timed_out_at_its_deadline(client, monkeypatch):
    released = threading.Event()
    monkeypatch.setattr(health, "DEADLINES", {**health.DEADLINES, "channel_layer": 0.2})
    monkeypatch.setitem(health.CHECKS, "channel_layer", lambda: released.wait(30))
    try:
        response = client.get("/health/ready")
    finally:
        released.set()
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "checks": {**ALL_OK, "channel_layer": "timeout"},
    }


def test_the_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code == 200
