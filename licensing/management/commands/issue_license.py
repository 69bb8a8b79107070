import argparse
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from licensing.jwt import KID_PATTERN, MAX_CAP, encode_license, key_fingerprint
from licensing.keys import load_private_key


def cap(value: str) -> int | None:
    if value == "unlimited":
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if not 0 <= number <= MAX_CAP:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a cap: give a whole number from 0 to {MAX_CAP}, or 'unlimited'."
        )
    return number


MAX_DAYS = 36500  # a century; far beyond any contract, well inside the dates Python can hold


def days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days (1 or more).")
    if number > MAX_DAYS:
        raise argparse.ArgumentTypeError(
            f"{value!r}: a license runs at most {MAX_DAYS} days; for longer, omit --days "
            "(perpetual)."
        )
    return number


def subject(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a license ID (the UUID shown on Settings > License)."
        ) from None


def kid(value: str) -> str:
    if not KID_PATTERN.fullmatch(value):
        raise argparse.ArgumentTypeError(
            "A key ID is up to 64 letters, digits, dots, underscores or dashes."
        )
    return value


CUSTOMER_MAX = 255  # the longest `customer` claim licensing.jwt accepts


def customer(value: str) -> str:
    name = value.strip()
    if not name or len(name) > CUSTOMER_MAX or "\x00" in name:
        raise argparse.ArgumentTypeError(
            f"A customer name is 1 to {CUSTOMER_MAX} characters (not only spaces)."
        )
    return name


class Command(BaseCommand):
    help = (
        "The vendor's tool: sign a license for a tenant's license ID and print the JWT. "
        "Caps take a number or 'unlimited'; without --days the license is perpetual."
    )
    # The vendor's tool needs no working installation: it runs before (or far from) the keys
    # LICENSE_PUBLIC_KEYS names, which the licensing.E001 check would refuse.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--private-key", required=True, type=Path)
        parser.add_argument("--subject", required=True, type=subject)
        parser.add_argument("--kind", required=True, choices=["contract", "trial"])
        parser.add_argument("--hosts", required=True, type=cap)
        parser.add_argument("--gateways", required=True, type=cap)
        parser.add_argument("--tasks", required=True, type=cap)
        parser.add_argument("--days", type=days, help="Validity in days; omit for perpetual.")
        parser.add_argument("--kid", type=kid, help="Key ID for the header (JWKS key names).")
        parser.add_argument(
            "--customer", type=customer, help="The customer's name (shown on pages)."
        )

    def handle(self, *args, private_key, subject, kind, hosts, gateways, tasks, **options):
        try:
            key = load_private_key(private_key)
        except ValueError as error:
            raise CommandError(str(error)) from error
        token = encode_license(
            private_key=key,
            subject=subject,
            kind=kind,
            caps={"hosts": hosts, "gateways": gateways, "tasks": tasks},
            issuer=settings.LICENSE_ISSUER,
            days=options["days"],
            kid=options["kid"],
            customer=options["customer"] or "",
        )
        # stderr: stdout is the token alone, for scripts and copy-paste.
        self.stderr.write(f"Signed with the key {key_fingerprint(key)}")
        self.stdout.write(token)
