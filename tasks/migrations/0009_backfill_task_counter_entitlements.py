"""Copy each tenant's active license's tasks entitlement onto its counter row.

Frozen here (no live code): the tasks cap, the end of the license plus licensing's clock
leeway of 60 seconds (CLOCK_LEEWAY when this was written), and the jti. Counters of tenants
with no active license keep the free-tier cap 0008 gave every row.
"""

from datetime import timedelta

from django.db import migrations

CLOCK_LEEWAY = timedelta(seconds=60)


def backfill(apps, schema_editor) -> None:
    License = apps.get_model("licensing", "License")
    TaskCounter = apps.get_model("tasks", "TaskCounter")
    for license in License.objects.filter(status="active"):
        ends_at = license.expires_at
        TaskCounter.objects.filter(tenant_id=license.tenant_id).update(
            tasks_cap=license.tasks_cap,
            open_until=ends_at + CLOCK_LEEWAY if ends_at is not None else None,
            license_jti=license.jti,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0003_license_applied_by_name"),
        ("tasks", "0008_task_counter_mirrors_the_tasks_entitlement"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
