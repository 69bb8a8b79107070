import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from licensing.errors import validation_sentence
from licensing.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant and print it as JSON (id, slug, license_subject)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--slug")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args, name, slug, timezone, **options):
        try:
            tenant = tenant_create(name=name, slug=slug, timezone=timezone)
        except ValidationError as error:
            raise CommandError(validation_sentence(error)) from error
        self.stdout.write(
            json.dumps(
                {
                    "id": tenant.pk,
                    "name": tenant.name,
                    "slug": tenant.slug,
                    "timezone": tenant.timezone,
                    "license_subject": str(tenant.license_subject),
                }
            )
        )
