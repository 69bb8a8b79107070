from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from licensing.jwt import key_fingerprint
from licensing.keys import load_private_key, write_key_pair


class Command(BaseCommand):
    help = "Make an Ed25519 key pair for signing licenses: DIR/private.pem and DIR/public.pem."
    # The vendor's tool runs before its keys exist: LICENSE_PUBLIC_KEYS may name the very file
    # it is about to write, which the licensing.E001 check would refuse.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="Directory for the key pair.")

    def handle(self, *args, out: Path, **options):
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} is a file, not a directory: give --out a directory.")
        try:
            private, public = write_key_pair(out, overwrite=False)
        except FileExistsError as error:
            raise CommandError(f"{error}: refusing to overwrite a key pair.") from error
        except OSError as error:
            raise CommandError(f"Cannot write the key pair to {out}: {error.strerror}.") from error
        self.stdout.write(f"Private key (keep it secret, never commit it): {private}")
        self.stdout.write(f"Public key (set LICENSE_PUBLIC_KEYS to it): {public}")
        self.stdout.write(f"Fingerprint: {key_fingerprint(load_private_key(private))}")
