from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor) -> None:
    """The database cache's table (rate limits count there), made by `migrate` itself so no
    set-up step can be forgotten; createcachetable skips tables that exist."""
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []

    operations = [migrations.RunPython(create_cache_tables, migrations.RunPython.noop)]
