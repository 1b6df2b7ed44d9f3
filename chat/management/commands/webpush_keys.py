"""This server's VAPID key for Web Push: made once, kept, and printed for the environment.

With no key, the site still notifies in open tabs; with one, it also reaches browsers with
every tab closed. The key is kept in the var folder beside the database (read from there
when CHAT_VAPID_PRIVATE_KEY is not set); for several machines, set the printed line in
each one's environment, since every worker must sign with the same key.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chat import push


class Command(BaseCommand):
    help = "Make this server's VAPID key for Web Push if it has none, and print it."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--new",
            action="store_true",
            help="Replace the key file's key (every browser must then subscribe again).",
        )

    def handle(self, *args, new: bool = False, **options) -> None:
        path = settings.CHAT_VAPID_KEY_FILE
        if settings.CHAT_VAPID_PRIVATE_KEY and new:
            raise CommandError("CHAT_VAPID_PRIVATE_KEY is set: change it there instead.")
        if new or push.configured_private_key() is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(push.new_private_key() + "\n")
            self.stderr.write(f"A new VAPID key is in {path}.")
        self.stdout.write(f"CHAT_VAPID_PRIVATE_KEY={push.configured_private_key()}")
        self.stdout.write(f"# public key (applicationServerKey): {push.public_key()}")
