"""Copy each tenant's active license's tasks entitlement onto its counter row.

Frozen here (no live code): the tasks cap, the end of the license plus licensing's clock
leeway of 60 seconds (CLOCK_LEEWAY when this was written), and the jti. Counters of tenants
with no active license keep the free-tier cap 0008 gave every row.
"""

from django.db import migrations

BACKFILL_SQL = """
UPDATE tasks_taskcounter AS counter
SET tasks_cap = license.tasks_cap,
    open_until = license.expires_at + interval '60 seconds',
    license_jti = license.jti
FROM licensing_license AS license
WHERE license.tenant_id = counter.tenant_id AND license.status = 'active'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0003_license_applied_by_name"),
        ("tasks", "0008_task_counter_mirrors_the_tasks_entitlement"),
    ]

    operations = [migrations.RunSQL(BACKFILL_SQL, reverse_sql=migrations.RunSQL.noop)]
