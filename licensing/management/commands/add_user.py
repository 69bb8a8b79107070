from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from licensing.errors import validation_sentence
from licensing.models import Tenant
from licensing.services import user_add


class Command(BaseCommand):
    help = "Add a user to a tenant: a member, or an administrator with --admin."

    def add_arguments(self, parser):
        parser.add_argument("tenant_slug")
        parser.add_argument("username")
        parser.add_argument("--admin", action="store_true")
        parser.add_argument("--password")

    def handle(self, *args, tenant_slug, username, admin, password, **options):
        tenant = Tenant.objects.filter(slug=tenant_slug).first()
        if tenant is None:
            raise CommandError(f"No tenant has the slug {tenant_slug!r}.")
        try:
            user = user_add(tenant=tenant, username=username, admin=admin, password=password)
        except ValidationError as error:
            raise CommandError(validation_sentence(error)) from error
        role = "administrator" if user.is_staff else "member"
        self.stdout.write(f"Added {role} {user.username} to {tenant.slug}.")
