import re

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import TestCase

from bands.models import Membership
from bands.services import band_create, band_invite


@pytest.fixture
def charlie(db, password):
    """Someone in no band of alice's."""
    return User.objects.create_user("charlie", "charlie@example.com", password)


@pytest.fixture
def charlie_client(charlie):
    from django.test import Client

    other = Client()
    other.force_login(charlie)
    return other


@pytest.fixture
def band(alice):
    """Alice's band; she is its owner and only member."""
    return band_create(owner=alice, name="The Jammers").band


def invite(*, site_url: str = "http://testserver", requester: str = "test", **kwargs):
    """`bands.services.band_invite` as a request calls it (the site's address, who asks),
    with what it leaves for after the commit (the e-mail, the live notice) run."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return band_invite(site_url=site_url, requester=requester, **kwargs)


def join(band, user, role=Membership.Role.MEMBER) -> Membership:
    """Put ``user`` in ``band`` the way the app does: invited, then accepted."""
    from bands.services import band_invitation_accept

    inviter = band.memberships.get(role=Membership.Role.OWNER).user
    invitation = invite(band=band, by=inviter, username_or_email=user.username)
    membership = band_invitation_accept(user=user, token=invitation.token)
    if role != Membership.Role.MEMBER:
        membership.role = role
        membership.save(update_fields=("role",))
    return membership


def link_in(message) -> str:
    """The invitation link in an e-mail's body."""
    found = re.search(r"https?://\S+/bands/invitations/\S+/", message.body)
    assert found, message.body
    return found.group(0)


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox
