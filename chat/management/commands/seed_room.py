import json
from pathlib import Path

from django.contrib.auth.models import AnonymousUser
from django.core.management.base import BaseCommand, CommandError

from chat import services
from chat.models import User, name_key


class Command(BaseCommand):
    help = "Fill a room (made if missing) with numbered messages, for trying out long histories."

    def add_arguments(self, parser):
        parser.add_argument("room", help="the room's name")
        parser.add_argument("count", type=int, help="how many messages to add")
        parser.add_argument("--sender", default="Seeder", help="the name they are sent under")
        parser.add_argument(
            "--texts",
            type=Path,
            help="a JSON file holding a list of texts, used in turn instead of numbered ones",
        )

    def handle(self, *args, room: str, count: int, sender: str, texts: Path | None, **options):
        if count < 1:
            raise CommandError("count must be at least 1")
        given = json.loads(texts.read_text()) if texts else None
        if given is not None and not (
            isinstance(given, list) and given and all(isinstance(t, str) and t for t in given)
        ):
            raise CommandError("--texts must hold a JSON list of non-empty strings")
        user = User.objects.filter(username=name_key(sender)).first()
        if user is None:
            user = services.guest_claim(name=sender, current_user=AnonymousUser())
        target = services.room_join(name=room, person=user)
        chunk = 10_000
        for start in range(0, count, chunk):
            numbers = range(start, min(count, start + chunk))
            batch = (
                [given[n % len(given)] for n in numbers]
                if given
                else [f"Message {n + 1} of {count}" for n in numbers]
            )
            services.messages_import(room_id=target.pk, sender=user, texts=batch)
        self.stdout.write(f"{count} messages added to {target.name!r} (room {target.pk}).")
