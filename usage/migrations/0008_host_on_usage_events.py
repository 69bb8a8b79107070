"""Usage events name their host; host rollups, and consumer rollups keyed by model too (so
a consumer's cost can be priced): rebuilt from the events of a database that holds usage.

The consumer rollups are emptied before they gain their model (a non-null column), then
both are filled again. The SQL is frozen here, as the tables were at 0008: a migration
never imports live code (`usage.services.rollups_rebuild_within` may change after it).
"""

import django.db.models.deletion
from django.db import migrations, models

SUMMARY_GRAINS = (86400, 900)
SUMS = "input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests"
EVENT_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)"
)
GRAIN_START = "(CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT) / {grain}) * {grain}"
# (rollup table, its key columns after the grain); the events have the same columns.
REBUILDS = (
    ("usage_consumerrollup", "consumer, model_id"),
    # Existing events have no host yet (the column is new): all of it is "no host".
    ("usage_hostrollup", "host_id, model_id"),
)


def rebuild(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM usage_usageevent")
        tenants = [row[0] for row in cursor.fetchall()]
        for tenant_id in tenants:
            for table, keys in REBUILDS:
                cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant_id])
                for grain in SUMMARY_GRAINS:
                    cursor.execute(
                        f"INSERT INTO {table} (tenant_id, grain_seconds, grain_start, {keys}, {SUMS}) "
                        f"SELECT tenant_id, {grain}, {GRAIN_START.format(grain=grain)}, {keys}, "
                        f"{EVENT_SUMS} FROM usage_usageevent WHERE tenant_id = %s "
                        f"GROUP BY tenant_id, 3, {keys}",
                        [tenant_id],
                    )


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0004_api_tokens"),
        ("tasks", "0010_gateway_secret_hash_index"),
        ("usage", "0007_task_count_snapshots"),
    ]

    operations = [
        migrations.CreateModel(
            name="HostRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("grain_seconds", models.PositiveIntegerField(default=900)),
                (
                    "grain_start",
                    models.BigIntegerField(help_text="Start of the UTC grain, in Unix seconds."),
                ),
                ("input_tokens", models.BigIntegerField(default=0)),
                ("output_tokens", models.BigIntegerField(default=0)),
                ("cached_tokens", models.BigIntegerField(default=0)),
                ("succeeded_requests", models.BigIntegerField(default=0)),
                ("failed_requests", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="consumerrollup",
            name="consumer_rollup_grain_key",
        ),
        # Refilled by `rebuild` below, with their model.
        migrations.RunSQL("DELETE FROM usage_consumerrollup", migrations.RunSQL.noop),
        migrations.AddField(
            model_name="consumerrollup",
            name="model",
            field=models.ForeignKey(
                default=0,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="usage.llmmodel",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="usageevent",
            name="host",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="usage_events",
                to="tasks.host",
            ),
        ),
        migrations.AddConstraint(
            model_name="consumerrollup",
            constraint=models.UniqueConstraint(
                fields=("tenant", "grain_seconds", "grain_start", "consumer", "model"),
                name="consumer_rollup_grain_key",
            ),
        ),
        migrations.AddField(
            model_name="hostrollup",
            name="host",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tasks.host",
            ),
        ),
        migrations.AddField(
            model_name="hostrollup",
            name="model",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="usage.llmmodel"
            ),
        ),
        migrations.AddField(
            model_name="hostrollup",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="licensing.tenant",
            ),
        ),
        migrations.AddConstraint(
            model_name="hostrollup",
            constraint=models.UniqueConstraint(
                fields=("tenant", "grain_seconds", "grain_start", "host", "model"),
                name="host_rollup_grain_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunPython(rebuild, migrations.RunPython.noop),
    ]
