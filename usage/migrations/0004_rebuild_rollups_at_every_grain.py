"""Rollups gained grains in 0002 (1 h for models, 1 day for consumers and tickets): recompute
them from the events of any database that already holds usage, so no figure goes missing.

The SQL is frozen here, as the tables and grains were at 0002: a migration never imports
live code, which may change after it (`usage.services.rollups_rebuild_within` did).
"""

from django.db import migrations

MODEL_GRAINS = (3600, 900, 300)
SUMMARY_GRAINS = (86400, 900)
SUMS = "input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests"
EVENT_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)"
)
GRAIN_START = "(CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT) / {grain}) * {grain}"
# (rollup table, grains, its key columns after the grain, the same from the events, filter)
REBUILDS = (
    (
        "usage_modelrollup",
        MODEL_GRAINS,
        "model_id, on_ticket",
        "model_id, ticket_id IS NOT NULL",
        "",
    ),
    ("usage_consumerrollup", SUMMARY_GRAINS, "consumer", "consumer", ""),
    (
        "usage_ticketrollup",
        SUMMARY_GRAINS,
        "ticket_id, model_id",
        "ticket_id, model_id",
        "AND ticket_id IS NOT NULL",
    ),
)


def rebuild(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM usage_usageevent")
        tenants = [row[0] for row in cursor.fetchall()]
        for tenant_id in tenants:
            for table, grains, keys, selected, condition in REBUILDS:
                cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant_id])
                for grain in grains:
                    cursor.execute(
                        f"INSERT INTO {table} (tenant_id, grain_seconds, grain_start, {keys}, {SUMS}) "
                        f"SELECT tenant_id, {grain}, {GRAIN_START.format(grain=grain)}, {selected}, "
                        f"{EVENT_SUMS} FROM usage_usageevent WHERE tenant_id = %s {condition} "
                        f"GROUP BY tenant_id, 3, {selected}",
                        [tenant_id],
                    )


class Migration(migrations.Migration):
    dependencies = [("usage", "0003_rollup_tenant_index_is_the_key")]

    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
