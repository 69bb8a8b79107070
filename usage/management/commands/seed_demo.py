from django.core.management.base import BaseCommand
from django.db import transaction

from licensing import demo as licensing_demo
from licensing.models import Tenant
from tasks.demo import seed_assets
from tasks.demo_tickets import seed_tickets
from usage.demo import progress_bar, seed_usage


class Command(BaseCommand):
    help = "Create a demo tenant with users and data so every page has something to show."

    def handle(self, *args, **options):
        if Tenant.objects.filter(slug=licensing_demo.DEMO_SLUG).exists():
            self.stdout.write("The demo tenant exists already; nothing was added.")
        else:
            with transaction.atomic():
                tenant = licensing_demo.seed_tenant()
            licensing_demo.seed_license(tenant)  # its own durable transaction, before any data
            seed_assets(tenant)  # hosts, a webhook gateway, tasks (guarded services)
            seed_tickets(tenant)  # a gateway, tickets in each status, a schedule (durable services)
            seed_usage(tenant, progress=progress_bar(self.stdout))  # models, plans, 30 days of use
            self.stdout.write(self.style.SUCCESS("Demo tenant 'Acme Robotics' created."))
        for login in licensing_demo.DEMO_LOGINS:
            self.stdout.write(
                f"  {login.role:<13} username {login.username!r}  password {login.password!r}"
            )
