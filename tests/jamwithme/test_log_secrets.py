"""No secret or one-time link reaches the log: without a mail server and with LOG_FORMAT=json,
mail is logged as one redacted line (a hash of the recipient, the subject), never its body;
paths that carry a one-time token are redacted in every line (the access line, Django's
"Not Found"); and the web server's own lines are JSON too, with the request's id."""

import io
import json
import logging
import re
import urllib.request

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from jamwithme.logs import ContextFilter, JsonFormatter, OneTimeLinkFilter
from jamwithme.mail import RedactedLogBackend, recipient_hash
from tests.accounts.test_signup import sign_up
from tests.jamwithme.test_settings import load_settings
from tests.jamwithme.test_static import documented_web_server, fetch
from tests.ports import bound_socket

SIGN_UP_PASSWORD = "Strum-the-chords-77"
NEW_PASSWORD = "Brand-new-riff-2026"
sent_messages = []


class RecordingRedactedBackend(RedactedLogBackend):
    """The redacting backend as configured, which also keeps what it was given, so the test
    can follow the links (and know the tokens it must not find in the log)."""

    def send_messages(self, email_messages):
        sent_messages.extend(email_messages)
        return super().send_messages(email_messages)


@pytest.fixture
def json_log():
    """The root logger's lines through the handler LOG_FORMAT=json configures (its
    formatter and filters, as settings.LOGGING sets them)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(OneTimeLinkFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream.getvalue
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def redacted_mail(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RecordingRedactedBackend"
    sent_messages.clear()
    yield sent_messages
    sent_messages.clear()


def path_in(body: str, prefix: str) -> str:
    return re.search(rf"http://testserver({prefix}\S+/)", body).group(1)


@pytest.mark.django_db
def test_a_sign_up_and_a_password_reset_leave_no_link_token_or_password_in_the_log(
    client, json_log, redacted_mail, capsys, django_capture_on_commit_callbacks
):
    assert sign_up(client).status_code == 302
    confirm = path_in(redacted_mail[0].body, "/accounts/signup/confirm/")
    assert client.get(confirm).status_code == 200
    assert client.post(confirm).status_code == 302
    assert User.objects.filter(username="carol").exists()
    client.get("/accounts/signup/confirm/not-a-token-but-secret-looking/")
    client.post(reverse("logout"))

    with django_capture_on_commit_callbacks(execute=True):  # the mail leaves on commit
        response = client.post(reverse("password_reset"), {"email": "carol@example.com"})
    assert response.status_code == 302
    reset = path_in(redacted_mail[1].body, "/accounts/reset/")
    set_password = client.get(reset)
    assert set_password.status_code == 302  # the token goes into the session
    done = client.post(
        set_password["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302
    assert User.objects.get(username="carol").check_password(NEW_PASSWORD)

    logged = json_log()
    printed = "".join(capsys.readouterr())
    lines = [json.loads(line) for line in logged.splitlines()]
    mail_lines = [line for line in lines if line["logger"] == "jamwithme.mail"]
    assert [line["mail_subject"] for line in mail_lines] == [
        redacted_mail[0].subject,
        redacted_mail[1].subject,
    ]
    assert all(recipient_hash("carol@example.com") in line["message"] for line in mail_lines)
    confirm_token = confirm.rstrip("/").rsplit("/", 1)[1]
    reset_token = reset.rstrip("/").rsplit("/", 1)[1]
    for secret in (
        confirm_token,
        reset_token,
        "not-a-token-but-secret-looking",
        SIGN_UP_PASSWORD,
        NEW_PASSWORD,
        "carol@example.com",
    ):
        assert secret not in logged
        assert secret not in printed


def test_json_logs_without_a_mail_server_use_the_redacting_backend(tmp_path):
    def shown(show, **env):
        result = load_settings(tmp_path, show=show, **env)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    backend = "settings.EMAIL_BACKEND"
    assert shown(backend, LOG_FORMAT="json", EMAIL_HOST="") == "jamwithme.mail.RedactedLogBackend"
    assert shown(backend, LOG_FORMAT="plain", EMAIL_HOST="") == (
        "django.core.mail.backends.console.EmailBackend"
    )
    filters = shown("settings.LOGGING['handlers']['console']['filters']", LOG_FORMAT="json")
    assert "one_time_links" in filters


def test_the_web_servers_own_lines_are_json_with_the_request_id_and_no_one_time_link(tmp_path):
    with bound_socket() as listening:
        listening.listen()
        process, url = documented_web_server(tmp_path, listening, LOG_FORMAT="json")
        try:
            request = urllib.request.Request(
                url + "/health/live", headers={"X-Request-ID": "probe-42"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
            fetch(url + "/accounts/signup/confirm/SeCrEt-one-time-token/")
        finally:
            process.terminate()
            process.wait(timeout=20)
    log = (tmp_path / "web.log").read_text()
    assert "SeCrEt-one-time-token" not in log
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # all JSON
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    probe = next(line for line in access if "/health/live" in line["message"])
    assert probe["request_id"] == "probe-42"
    assert any("/accounts/signup/confirm/[redacted]/" in line["message"] for line in access)
    assert any(line["logger"] == "uvicorn.error" for line in lines)  # "Started server process"
