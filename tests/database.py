"""The test database as a URL, for processes a test starts (engines, a fresh `migrate`)."""

import os
from urllib.parse import urlsplit

from django.db import connection


def database_url(name: str | None = None) -> str:
    """DATABASE_URL (TCP or socket alike) naming `name`, by default this test's database."""
    name = name or connection.settings_dict["NAME"]
    return urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
