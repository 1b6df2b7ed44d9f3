from django.core.management.base import BaseCommand

from chat.services.files import files_prune_unsent


class Command(BaseCommand):
    help = (
        "Delete uploaded files that no message took within CHAT_UPLOAD_UNSENT_HOURS "
        "(run it daily from cron; each person's own also go when they upload again)."
    )

    def handle(self, *args, **options) -> None:
        deleted = files_prune_unsent()
        self.stdout.write(f"{deleted} unsent files deleted")
