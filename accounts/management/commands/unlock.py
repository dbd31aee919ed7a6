"""`manage.py unlock USERNAME [--address IP]`: the way back for a locked-out account (staff
included) that does not depend on where its owner is: run on the server, it forgets the
account's counted failures from every address, and with --address that address's too (the
spraying ceiling)."""

from django.core.management.base import BaseCommand, CommandError

from accounts import throttling


class Command(BaseCommand):
    help = "Lift a sign-in lockout: forget an account's failed attempts (and an address's)."

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", help="the account to unlock")
        parser.add_argument("--address", help="also forget every failure from this address")

    def handle(self, *args, username=None, address=None, **options):
        if not username and not address:
            raise CommandError("Name an account (USERNAME) or an --address to unlock.")
        removed = throttling.unlock(username=username, ip_address=address)
        what = " and ".join(
            part
            for part in (
                f"account {username!r}" if username else "",
                f"address {address}" if address else "",
            )
            if part
        )
        self.stdout.write(f"Unlocked {what}: {removed} record(s) of failed attempts removed.")
