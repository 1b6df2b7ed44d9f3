"""Give every room a new epoch: run it after restoring the database from a backup.

A restored database hands out again numbers that open pages have already seen (with other
messages behind them). With a new epoch, every client's next `sync` is answered with a
reset, and the page reloads its latest messages instead of trusting its position.
"""

from django.core.management.base import BaseCommand

from chat.models import Room, new_epoch


class Command(BaseCommand):
    help = "Give every room a new epoch, so that clients reset (after restoring a backup)."

    def handle(self, *args, **options) -> None:
        rooms = list(Room.objects.only("pk"))
        for room in rooms:
            room.epoch = new_epoch()
        Room.objects.bulk_update(rooms, ["epoch"], batch_size=1000)
        self.stdout.write(f"{len(rooms)} rooms have a new epoch; open pages will reset.")
