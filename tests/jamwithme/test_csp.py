"""The Content-Security-Policy: strict on every page (no inline script or style), a style
nonce only where the player needs it, and violation reports logged. The browser tests run
every page under it and fail on any violation (tests/conftest.py's watch_csp)."""

import json
import logging
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse

from tests.factories import make_track

TEMPLATES = Path(django_settings.BASE_DIR) / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_every_page_gets_a_strict_policy_with_no_unsafe_inline(client, db):
    for path in ("/", reverse("login"), reverse("signup"), "/no/such/page/"):
        header = client.get(path)["Content-Security-Policy"]
        policy = directives(header)
        assert "'unsafe-inline'" not in header, path
        assert "'unsafe-eval'" not in header, path
        assert "blob:" not in header, path  # the worklet loads the library's file, not a blob
        assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'"]  # the stretch's wasm
        assert policy["default-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["style-src"] == ["'self'"], path  # no nonce where no player asks for it
        assert policy["report-uri"] == [reverse("csp_report")]


def test_the_admin_pages_get_the_policy_too(admin_client):
    header = admin_client.get(reverse("admin:auth_user_changelist"))["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header
    assert directives(header)["script-src"][0] == "'self'"


def test_a_player_page_carries_the_style_nonce_its_header_allows(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path, separated=True)
    response = alice_client.get(reverse("tracks:detail", args=[track.id]))
    nonce = re.search(r'<meta name="jam-style-nonce" content="([^"]+)">', response.text)
    assert nonce is not None
    assert directives(response["Content-Security-Policy"])["style-src"] == [
        "'self'",
        f"'nonce-{nonce.group(1)}'",
    ]
    again = alice_client.get(reverse("tracks:detail", args=[track.id]))
    assert nonce.group(1) not in again["Content-Security-Policy"]  # one per response


def test_no_template_has_an_inline_script_style_or_event_handler():
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
    )
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in TEMPLATES.rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert found == []


def test_a_violation_report_is_logged_and_answered_204(client, db, caplog):
    report = {
        "csp-report": {
            "document-uri": "http://testserver/",
            "effective-directive": "script-src-elem",
            "blocked-uri": "inline",
            "line-number": 12,
            "original-policy": "x" * 5000,
        }
    }
    with caplog.at_level(logging.WARNING, logger="jamwithme.csp"):
        response = client.post(
            reverse("csp_report"), json.dumps(report), content_type="application/csp-report"
        )
    assert response.status_code == 204
    [record] = [r for r in caplog.records if r.name == "jamwithme.csp"]
    assert "script-src-elem" in record.getMessage()
    assert "original-policy" not in record.getMessage()  # only the fields that say what


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"csp-report": 3}'])
def test_a_report_that_is_not_one_is_refused(client, db, body):
    response = client.post(reverse("csp_report"), body, content_type="application/csp-report")
    assert response.status_code == 400
