import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User

import engine
from tests import fakes


@pytest.fixture(scope="session", autouse=True)
def short_lived_connections():
    """Connections opened by database_sync_to_async threads close after each call, so the
    test database (PostgreSQL) can be dropped at the end."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0


@pytest.fixture(scope="session")
def django_db_modify_db_settings(request, django_db_modify_db_settings_parallel_suffix):
    """With the `celery` tests in the run, the SQLite test database is a file (not memory),
    so the Celery worker processes they start share it with the test."""
    from django.conf import settings

    default = settings.DATABASES["default"]
    wanted = any(item.get_closest_marker("celery") for item in request.session.items)
    if wanted and default["ENGINE"] == "django.db.backends.sqlite3":
        folder = request.getfixturevalue("tmp_path_factory").mktemp("database")
        default.setdefault("TEST", {})["NAME"] = str(folder / "db.sqlite3")


@pytest.fixture(autouse=True)
def own_scratch(settings, tmp_path, monkeypatch):
    """Workers run in tests work under the test's folder, and a worker that points this
    process's temporary files at its scratch folder (use_process_scratch) is undone."""
    import tempfile

    settings.JAM_SCRATCH_DIR = tmp_path / "scratch"
    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Each test stores files in its own directory (and hashes passwords quickly)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests queue many songs for one user; tests/separation/test_limits.py sets its own.
    settings.JAM_USER_MAX_ACTIVE_JOBS = 1000
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": media, "base_url": None},
        },
    }
    return media


@pytest.fixture(autouse=True)
def own_cache_keys(settings):
    """Each test counts (the mail limits, accounts.mail) under its own cache key prefix: the
    in-memory cache lives as long as the test process, and Redis is shared by the run."""
    import uuid

    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def password():
    return "a-long-Jam-password-42"


@pytest.fixture
def alice(db, password):
    """The owner in most tests."""
    return User.objects.create_user("alice", "alice@example.com", password)


@pytest.fixture
def bob(db, password):
    """Another user, who must never see alice's things."""
    return User.objects.create_user("bob", "bob@example.com", password)


@pytest.fixture
def moderator(db, password):
    """Staff with the moderator permission: may listen to and download any track."""
    user = User.objects.create_user("mona", "mona@example.com", password, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="moderate_track"))
    return User.objects.get(pk=user.pk)  # fresh, so the permission cache is empty


@pytest.fixture
def staff(db, password):
    """Staff without the moderator permission: no more access to tracks than anyone."""
    return User.objects.create_user("stan", "stan@example.com", password, is_staff=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(bob):
    from django.test import Client

    other = Client()
    other.force_login(bob)
    return other


@pytest.fixture
def fake_engine(monkeypatch):
    fake = fakes.FakeEngine()
    monkeypatch.setattr(engine, "get_engine", lambda **config: fake, raising=False)
    return fake


@pytest.fixture
def sent_messages(settings, monkeypatch):
    """The scale-out mode with the broker replaced by a list: each message the project's
    Celery app is handed, as (task name, args, queue). What is sent is under test here, not
    the transport (the `celery` tests run a real broker). ``sent_messages.down = True`` makes every
    send fail as an unreachable broker does (a fixture named `broker` elsewhere is a real one)."""
    from kombu.exceptions import OperationalError

    from jamwithme.celery import app

    class Broker(list):
        down = False

        def send_task(self, name, args=(), queue=None, **options):
            if self.down:
                raise OperationalError("broker down")
            self.append((name, tuple(args), queue))

    sent = Broker()
    settings.SEPARATION_DISPATCH = "celery"
    monkeypatch.setattr(app, "send_task", sent.send_task)
    return sent


@pytest.fixture
def wav_file(tmp_path):
    return fakes.write_wav(tmp_path / "song.wav", seconds=1.0)


# --- The real browser and server (tests/browsing.py) ----------------------------------------
@pytest.fixture
def screenshots(tmp_path):
    folder = Path(os.environ.get("JAM_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def chromium_path():
    from tests.browsing import chromium_path as find

    return find()


@pytest.fixture(autouse=True)
def watch_csp(request, monkeypatch):
    """In a browser test, every context its browsers open is watched for Content-Security-
    Policy violations (tests/browsing.py's CspWatch), and the test fails on any."""
    if request.node.get_closest_marker("browser") is None:
        yield None
        return
    from playwright.sync_api import Browser

    from tests.browsing import CspWatch

    watch = CspWatch()
    new_context, new_page = Browser.new_context, Browser.new_page

    def watched_context(self, *args, **kwargs):
        context = new_context(self, *args, **kwargs)
        watch.attach(context)
        return context

    def watched_page(self, *args, **kwargs):
        page = new_page(self, *args, **kwargs)
        watch.attach(page.context)
        return page

    monkeypatch.setattr(Browser, "new_context", watched_context)
    monkeypatch.setattr(Browser, "new_page", watched_page)
    yield watch
    assert watch.violations == [], "CSP violations:\n" + "\n".join(watch.violations)


@pytest.fixture
def server(tmp_path):
    from tests.browsing import serve

    yield from serve(tmp_path)


@pytest.fixture
def in_memory_layer(settings):
    """The in-memory channel layer, also in the Redis pass: for tests that read what was
    published straight from the layer (the Redis transport is tested through the consumer,
    whose event loop holds the connection)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
