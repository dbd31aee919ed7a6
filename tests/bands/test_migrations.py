"""Going back past the viewer role (bands 0002) never turns a viewer into someone who
downloads: an older JamWithMe reads an unknown role as a member."""

import pytest

from bands.models import Band, Membership
from tests.migrating import latest, migrate

VIEWERS = [("bands", "0002_viewer_role")]
BEFORE = [("bands", "0001_initial")]


@pytest.mark.django_db(transaction=True)
def test_going_back_with_a_viewer_is_refused_and_without_one_goes_through(alice, bob):
    band = Band.objects.create(name="The Cats")
    Membership.objects.create(band=band, user=alice, role=Membership.Role.OWNER)
    viewer = Membership.objects.create(band=band, user=bob, role=Membership.Role.VIEWER)
    migrate(VIEWERS)
    try:
        with pytest.raises(RuntimeError, match="Bands have viewers"):
            migrate(BEFORE)
        assert Membership.objects.get(pk=viewer.pk).role == "viewer"  # nothing changed
        Membership.objects.filter(pk=viewer.pk).update(role="member")
        migrate(BEFORE)
        assert Membership.objects.filter(band=band).count() == 2
    finally:
        migrate(latest())


@pytest.mark.django_db(transaction=True)
def test_band_names_kept_with_bidi_controls_lose_them():
    migrate(VIEWERS)
    try:
        spoofed = Band.objects.create(name="gnp\u202eexe.png  band")
        plain = Band.objects.create(name="The Cats")
        migrate([("bands", "0003_band_names_without_bidi")])
        assert Band.objects.get(pk=spoofed.pk).name == "gnpexe.png band"
        assert Band.objects.get(pk=plain.pk).name == "The Cats"
    finally:
        migrate(latest())
