from django.core.management.base import BaseCommand

from usage.demo import DEMO_LOGINS, progress_bar, seed_demo


class Command(BaseCommand):
    help = "Create a demo tenant with users and data so every page has something to show."

    def handle(self, *args, **options):
        if seed_demo(progress=progress_bar(self.stdout)) is None:
            self.stdout.write("The demo tenant exists already; nothing was added.")
        else:
            self.stdout.write(self.style.SUCCESS("Demo tenant 'Acme Robotics' created."))
        for login in DEMO_LOGINS:
            self.stdout.write(
                f"  {login.role:<13} username {login.username!r}  password {login.password!r}"
            )
