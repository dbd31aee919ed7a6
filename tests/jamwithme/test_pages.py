"""The site's own pages: the front page for visitors, and the 404 and 500 pages in the
site's look with a way back (DEBUG off, as in production and in pytest-django)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import make_track


def test_a_visitor_at_the_front_page_reads_what_jamwithme_does_and_finds_the_way_in(client, db):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Take the vocals out of any song" in page
    assert "jam track" in page
    assert f'href="{reverse("signup")}"' in page
    assert f'href="{reverse("login")}"' in page
    assert "data-notifications" not in page  # no socket for a visitor


def test_a_signed_in_musician_at_the_front_page_gets_their_library(alice_client, alice, tmp_path):
    make_track(owner=alice, tmp_path=tmp_path, title="Alice's song")
    page = alice_client.get("/").content.decode()
    assert "Your jam tracks" in page
    assert "Alice&#x27;s song" in page
    assert "Take the vocals out of any song" not in page


def test_the_front_page_answers_get_only(client, db):
    assert client.post("/").status_code == 405


def test_an_unknown_address_gets_the_styled_404_with_a_way_back(client, db, settings):
    assert settings.DEBUG is False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing here" in page
    assert "/static/css/app.css" in page  # the site's look
    assert 'class="topbar"' in page
    assert "Back to the front page" in page


def test_someone_elses_track_is_the_same_404_page_for_a_signed_in_user(alice_client, bob, tmp_path):
    track = make_track(owner=bob, tmp_path=tmp_path)
    response = alice_client.get(reverse("tracks:detail", args=[track.id]))
    assert response.status_code == 404
    page = response.content.decode()
    assert "There is nothing here" in page
    assert "Back to your library" in page


@pytest.mark.urls("tests.jamwithme.boom_urls")
def test_a_server_error_gets_the_styled_500_page_with_a_way_back(db, settings):
    assert settings.DEBUG is False
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "/static/css/app.css" in page
    assert 'href="/"' in page and "Back to JamWithMe" in page
    assert "RuntimeError" not in page and "a bug" not in page
