"""Deleting an export. Making one is `practice.rendering` (the render kind's work), which
only a worker imports: it loads the audio libraries."""

import logging

from django.db import transaction

from practice.models import Render
from tracks.access import Access
from tracks.services import track_delete_rendition

logger = logging.getLogger(__name__)


def render_delete(*, render_id: int, user, access: Access) -> bool:
    """Take ``user``'s export away. The track's owner deletes it for everyone; anyone else
    who asked for it only withdraws from it, and it goes when no one who asked is left.
    When it goes, its stored file goes too (freeing the owner's quota). A render a worker is
    making goes the same way: the worker's claim no longer matches, so its next heartbeat
    or its finishing transaction finds the render lost, and it drops what it stored.
    Returns True when the render (and its file) went."""
    with transaction.atomic():
        render = Render.objects.select_for_update().filter(id=render_id).first()
        if render is None:
            return False
        if not access.can_manage:
            render.requesters.remove(user)
            if render.requesters.exists():
                return False
        asset_id = render.asset_id
        render.delete()
        if asset_id is not None:
            track_delete_rendition(asset_id=asset_id)
    logger.info("Render %s deleted by user %s", render_id, user.pk)
    return True
