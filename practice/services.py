"""Deleting an export. Making one is `practice.rendering` (the render kind's work), which
only a worker imports: it loads the audio libraries."""

import logging

from django.db import transaction

from practice.models import Render
from tracks.access import Access
from tracks.services import track_charge_rendition, track_delete_rendition

logger = logging.getLogger(__name__)


def _charge(render: Render, user_id) -> None:
    """Whoever withdrew paid for it: one who still wants it (the first by id) pays now."""
    Render.objects.filter(pk=render.pk).update(charged_to_id=user_id)
    if render.asset_id is not None:
        track_charge_rendition(asset_id=render.asset_id, user_id=user_id)


def render_delete(*, render_id: int, user, access: Access) -> bool:
    """Take ``user``'s export away. The track's owner deletes it for everyone; anyone else
    who asked for it only withdraws from it, and it goes when no one who asked is left.
    When it goes, its stored file goes too (freeing the quota of whoever paid for it); when
    the one who paid withdraws and others still want it, one of them pays for it now. A
    render a worker is making goes the same way: the worker's claim no longer matches, so
    its next heartbeat or its finishing transaction finds the render lost, and it drops
    what it stored.
    Returns True when the render (and its file) went."""
    with transaction.atomic():
        render = Render.objects.select_for_update().filter(id=render_id).first()
        if render is None:
            return False
        if not access.can_manage:
            render.requesters.remove(user)
            left = render.requesters.order_by("pk").first()
            if left is not None:
                if render.charged_to_id == user.pk:
                    _charge(render, left.pk)
                return False
        asset_id = render.asset_id
        render.delete()
        if asset_id is not None:
            track_delete_rendition(asset_id=asset_id)
    logger.info("Render %s deleted by user %s", render_id, user.pk)
    return True
