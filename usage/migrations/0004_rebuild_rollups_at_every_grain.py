"""Rollups gained grains in 0002 (1 h for models, 1 day for consumers and tickets): recompute
them from the events of any database that already holds usage, so no figure goes missing."""

from django.db import migrations


def rebuild(apps, schema_editor):
    from usage.services import rollups_rebuild_within

    UsageEvent = apps.get_model("usage", "UsageEvent")
    tenants = UsageEvent.objects.order_by().values_list("tenant_id", flat=True).distinct()
    for tenant_id in tenants:
        rollups_rebuild_within(tenant_id=tenant_id)


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_rollup_tenant_index_is_the_key")]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
