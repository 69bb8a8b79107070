from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from licensing.api_tokens.services import api_token_create
from licensing.errors import validation_sentence
from licensing.models import ApiToken


class Command(BaseCommand):
    help = (
        "Create an API token for USER and print it: the token alone is the last line "
        "(it is shown only this once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("user", help="The username the token acts for.")
        parser.add_argument("--name", default="Command line", help="What uses the token.")
        parser.add_argument("--scope", default=ApiToken.Scope.FULL, choices=ApiToken.Scope.values)
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, user, name, scope, expires_in_days, **options):
        holder = get_user_model().objects.filter(username=user).first()
        if holder is None:
            raise CommandError(f"No user is named {user!r}.")
        try:
            created = api_token_create(
                user=holder, name=name, scope=scope, expires_in_days=expires_in_days
            )
        except ValidationError as error:
            raise CommandError(validation_sentence(error)) from error
        expiry = (
            f"expires {created.token.expires_at:%Y-%m-%d %H:%M} UTC"
            if created.token.expires_at
            else "does not expire"
        )
        self.stderr.write(
            f"API token {created.token.name!r} for {holder.username}, scope {scope}, {expiry}. "
            "Copy it now: Tally keeps only its hash."
        )
        self.stdout.write(created.secret)
