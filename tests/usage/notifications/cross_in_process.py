"""Run in a separate process by the race test: cross one threshold at a given instant.

python -m tests.usage.notifications.cross_in_process TENANT_ID START_AT_EPOCH
"""

import os
import sys
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from licensing.models import Tenant
    from tests.usage.notifications.conftest import cross

    tenant = Tenant.objects.get(pk=int(sys.argv[1]))
    time.sleep(max(float(sys.argv[2]) - time.time(), 0))
    cross(tenant, dimension="tasks", before=79, after=80, cap=100, jti="lic-race")


if __name__ == "__main__":
    main()
