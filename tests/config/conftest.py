import pytest
from django.db import connection

from tests.database import database_url


@pytest.fixture
def empty_database_url(django_db_setup, django_db_blocker):
    """A URL to a new, empty PostgreSQL database on the test server, dropped afterwards: for
    steps that run `migrate` in a subprocess of their own, as a fresh installation would."""
    name = f"{connection.settings_dict['NAME']}_fresh"
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name)
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
