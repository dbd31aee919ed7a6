"""Signals bands sends for the apps above it (which bands never imports).

``membership_ended`` — someone is no longer in a band: they left, were removed, or the band
was deleted (then once for each of its members). Sent after the change is committed, with
``sender=Membership`` and two keyword arguments:

* ``band_id`` — the band's id (a UUID; the band itself may be gone),
* ``user_id`` — the id of the user who lost the membership.

Access elsewhere already follows at once (the tracks access rule reads memberships on every
request); the signal is for telling that user's open pages and sockets what they lost, e.g.::

    from bands.models import Membership
    from bands.signals import membership_ended

    membership_ended.connect(on_membership_ended, sender=Membership)

    def on_membership_ended(sender, *, band_id, user_id, **kwargs): ...

``membership_changed`` — someone's role in a band changed (`bands.roles`: say, a member made
a viewer, who no longer downloads). Sent after the commit, like ``membership_ended`` and
with the same arguments, so the apps above can tell that user's open pages to re-fetch.

A receiver that raises does not undo the change (it is committed) and does not stop the
other receivers: bands sends it with ``send_robust`` and logs what a receiver raised.
"""

from django.dispatch import Signal

membership_ended = Signal()
membership_changed = Signal()
