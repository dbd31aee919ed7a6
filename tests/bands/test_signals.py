"""`bands.signals.membership_ended`: sent after the commit, once for each membership that
ended, with sender=Membership, band_id and user_id."""

import pytest

from bands.models import Membership
from bands.services import band_leave, band_remove_member, band_transfer_ownership
from bands.signals import membership_ended
from tests.bands.conftest import join


@pytest.fixture
def ended():
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs["band_id"], kwargs["user_id"]))

    membership_ended.connect(receiver, sender=Membership, weak=False)
    yield received
    membership_ended.disconnect(receiver, sender=Membership)


def test_leaving_ends_the_membership_after_the_commit(
    band, bob, ended, django_capture_on_commit_callbacks
):
    join(band, bob)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        band_leave(band=band, user=bob)
    assert ended == []  # not before the commit
    for callback in callbacks:
        callback()
    assert ended == [(Membership, band.pk, bob.pk)]


def test_removing_a_member_ends_their_membership(
    band, alice, bob, ended, django_capture_on_commit_callbacks
):
    join(band, bob)
    with django_capture_on_commit_callbacks(execute=True):
        band_remove_member(band=band, by=alice, user=bob)
    assert ended == [(Membership, band.pk, bob.pk)]


def test_deleting_a_band_ends_every_membership(
    band, alice, ended, django_capture_on_commit_callbacks
):
    band_id = band.pk
    with django_capture_on_commit_callbacks(execute=True):
        band_leave(band=band, user=alice)
    assert ended == [(Membership, band_id, alice.pk)]


def test_deleting_a_band_in_the_admin_ends_every_membership(
    band, alice, bob, ended, django_capture_on_commit_callbacks
):
    from django.contrib.admin.sites import site

    from bands.models import Band

    join(band, bob)
    band_id = band.pk
    with django_capture_on_commit_callbacks(execute=True):
        site._registry[Band].delete_queryset(None, Band.objects.filter(pk=band_id))
    assert sorted(user_id for _, _, user_id in ended) == sorted([alice.pk, bob.pk])
    assert not Band.objects.filter(pk=band_id).exists()


def test_a_refused_change_and_a_change_of_role_end_nothing(
    band, alice, bob, ended, django_capture_on_commit_callbacks
):
    join(band, bob)
    with django_capture_on_commit_callbacks(execute=True):
        band_transfer_ownership(band=band, by=alice, user=bob)
    assert ended == []


def test_a_failing_receiver_does_not_undo_the_change_nor_stop_the_others(
    band, alice, bob, ended, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("boom")

    membership_ended.connect(broken, sender=Membership, weak=False)
    try:
        join(band, bob)
        with django_capture_on_commit_callbacks(execute=True):
            band_remove_member(band=band, by=alice, user=bob)
    finally:
        membership_ended.disconnect(broken, sender=Membership)
    assert ended == [(Membership, band.pk, bob.pk)]
    assert not Membership.objects.filter(band=band, user=bob).exists()
