from django.core.management.base import BaseCommand, CommandError

from chat.models import User, name_key
from chat.services.tokens import TooManyTokens, token_create


class Command(BaseCommand):
    help = (
        "Make a personal access token for an account and print it (for a bot set up from "
        "a shell; people make their own on their account page). It is shown only now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("account", help="the account's name")
        parser.add_argument("--name", default="Token", help="what the token is for")

    def handle(self, *args, account: str, name: str, **options) -> None:
        person = User.objects.filter(username=name_key(account)).first()
        if person is None:
            raise CommandError(f"No account is called {account!r}.")
        try:
            _, secret = token_create(person=person, name=name)
        except TooManyTokens as refusal:
            raise CommandError(str(refusal)) from None
        self.stdout.write(secret)
