"""Names that spoof (issue 22, item 9): bidi controls are stripped from titles, band names
and mail subjects at input, names render isolated, and a username that looks like an
existing one ("ádmin", a Cyrillic a or i, full-width letters) is refused."""

import unicodedata

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.urls import reverse

from accounts.mail import INVITATION, mail_send_after_commit
from accounts.services import username_looks_taken
from accounts.text import BIDI_CONTROLS, strip_bidi, username_skeleton
from bands.models import Band
from bands.services import band_create
from tests.factories import make_track
from tracks.models import Track

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it shows reversed
SPOOF = f"gnp{RLO}exe.png"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def test_every_bidi_control_named_in_the_issue_is_stripped():
    named = [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
    assert {chr(c) for c in named} == BIDI_CONTROLS
    assert strip_bidi("".join(map(chr, named)) + "tune") == "tune"
    assert strip_bidi("שלום tune") == "שלום tune"  # right-to-left letters stay


def test_a_title_loses_its_bidi_controls_on_upload_and_rename(alice_client, alice, tmp_path):
    track = make_track(owner=alice, tmp_path=tmp_path)
    alice_client.post(reverse("tracks:rename", args=[track.id]), {"title": SPOOF})
    assert Track.objects.get(pk=track.pk).title == "gnpexe.png"


def test_a_band_name_loses_its_bidi_controls_from_the_form_the_service_and_the_admin(
    alice_client, alice
):
    alice_client.post(reverse("bands:create"), {"name": f"The {RLO}Cats"})
    assert Band.objects.get().name == "The Cats"
    assert band_create(owner=alice, name="\u2066Dogs\u2069").band.name == "Dogs"
    band = Band(name=f"Mice{RLO} ")
    band.full_clean()  # what the admin's form runs
    assert band.name == "Mice"


def test_a_bidi_control_only_band_name_is_refused(alice_client, alice):
    response = alice_client.post(reverse("bands:create"), {"name": RLO + "\u200f"})
    assert response.status_code == 200
    assert not Band.objects.exists()


def test_a_mail_subject_loses_its_bidi_controls(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        mail_send_after_commit(
            kind=INVITATION,
            to="carol@example.com",
            requester="test",
            subject=f"alice invited you to join {SPOOF}\n",
            body="…",
        )
    assert mail.outbox[0].subject == "alice invited you to join gnpexe.png"


def test_names_kept_from_before_render_isolated(alice_client, alice, tmp_path):
    """Rows stored before the stripping: the page isolates each name in a <bdi>."""
    band = band_create(owner=alice, name="The Cats").band
    Band.objects.filter(pk=band.pk).update(name=SPOOF)
    track = make_track(owner=alice, tmp_path=tmp_path)
    Track.objects.filter(pk=track.pk).update(title=SPOOF)
    band_page = alice_client.get(reverse("bands:detail", args=[band.pk])).content.decode()
    assert f"<h1><bdi>{SPOOF}</bdi></h1>" in band_page
    assert "<strong><bdi>alice</bdi></strong>" in band_page
    track_page = alice_client.get(reverse("tracks:detail", args=[track.id])).content.decode()
    assert f"<h1><bdi>{SPOOF}</bdi></h1>" in track_page
    library = alice_client.get(reverse("tracks:library")).content.decode()
    assert f"<bdi>{SPOOF}</bdi></a>" in library
    bands = alice_client.get(reverse("bands:list")).content.decode()
    assert f"<bdi>{SPOOF}</bdi></a>" in bands


@pytest.mark.parametrize(
    "lookalike",
    ["ádmin", "\u0430dmin", full_width("admin"), "ADMIN", "adm\u0456n", "a\u0301dmin"],
    ids=["accent", "cyrillic-a", "full-width", "upper-case", "cyrillic-i", "combining-accent"],
)
def test_a_username_that_looks_like_an_existing_one_is_refused_at_sign_up(client, db, lookalike):
    User.objects.create_user("admin", "admin@example.com", "x")
    response = client.post(
        reverse("signup"),
        {
            "username": lookalike,
            "email": "mallory@example.com",
            "password1": "Strum-the-chords-77",
            "password2": "Strum-the-chords-77",
        },
    )
    assert response.status_code == 200
    # Django's own check catches what NFKC and the case alone make "admin".
    same = unicodedata.normalize("NFKC", lookalike).lower() == "admin"
    said = "already exists" if same else "looks too much like an existing one"
    assert said in response.content.decode()
    assert not User.objects.exclude(username="admin").exists()
    assert username_skeleton(lookalike) == "admin"


def test_a_username_is_nfkc_normalised(client, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("signup"),
            {
                "username": full_width("mallory"),
                "email": "mallory@example.com",
                "password1": "Strum-the-chords-77",
                "password2": "Strum-the-chords-77",
            },
        )
    link = mail.outbox[0].body.split("http://testserver", 1)[1].split()[0]
    client.post(link)
    assert User.objects.get(email="mallory@example.com").username == "mallory"


def test_a_different_username_is_accepted(client, db):
    User.objects.create_user("admin", "admin@example.com", "x")
    response = client.post(
        reverse("signup"),
        {
            "username": "admiral",
            "email": "mallory@example.com",
            "password1": "Strum-the-chords-77",
            "password2": "Strum-the-chords-77",
        },
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "existing, lookalike",
    [
        ("alice", "aIice"),  # a capital I for the l: the same glyph in most sans-serif fonts
        ("Ivan", "lvan"),  # and the other way round
        ("alice", "a1ice"),
        ("bob", "b0b"),
        ("admin", "adrnin"),  # "rn" for "m"
        ("ALICE", "ÁLICE"),  # capitals and an accent still match
    ],
)
def test_a_username_that_looks_like_an_existing_one_in_plain_ascii_is_refused(
    client, db, existing, lookalike
):
    User.objects.create_user(existing, "first@example.com", "x")
    response = client.post(
        reverse("signup"),
        {
            "username": lookalike,
            "email": "mallory@example.com",
            "password1": "Strum-the-chords-77",
            "password2": "Strum-the-chords-77",
        },
    )
    assert response.status_code == 200
    assert "looks too much like an existing one" in response.content.decode()
    assert username_looks_taken(username=lookalike)


def test_an_older_lookalike_account_stays_editable_in_the_admin_under_its_own_name(client, db):
    root = User.objects.create_superuser("root", "root@example.com", "x")
    User.objects.create_user("bob", "bob@example.com", "x")
    older = User.objects.create_user("b0b", "b0b@example.com", "x")  # from before the check
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_change", args=[older.pk]),
        {
            "username": "b0b",
            "email": "new@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(pk=older.pk).email == "new@example.com"


def test_a_lookalike_taken_between_sign_up_and_confirmation_is_refused_at_the_link(
    client, db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("signup"),
            {
                "username": "\u0430dmin",
                "email": "mallory@example.com",
                "password1": "Strum-the-chords-77",
                "password2": "Strum-the-chords-77",
            },
        )
    User.objects.create_user("admin", "admin@example.com", "x")
    link = mail.outbox[0].body.split("http://testserver", 1)[1].split()[0]
    response = client.post(link)
    assert response.status_code == 404
    assert "Someone took the username" in response.content.decode()
    assert User.objects.count() == 1


def test_the_admin_refuses_a_lookalike_username_too(client, db):
    root = User.objects.create_superuser("root", "root@example.com", "x")
    User.objects.create_user("admin", "admin@example.com", "x")
    client.force_login(root)
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "ádmin",
            "usable_password": "true",
            "password1": "a-long-Sock-password-42",
            "password2": "a-long-Sock-password-42",
        },
    )
    assert response.status_code == 200
    assert "looks too much like an existing one" in response.content.decode()
    renamed = client.post(
        reverse("admin:auth_user_change", args=[root.pk]),
        {
            "username": "\u0430dmin",
            "email": root.email,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert renamed.status_code == 200
    assert User.objects.get(pk=root.pk).username == "root"
