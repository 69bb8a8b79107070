"""The model rollup gains a UTC day grain (86400 s) for the history's months (SPEC §5.5):
build its rows from the events of any database that already holds usage.

The SQL is frozen here, as the table was at 0008: a migration never imports live code.
"""

from django.db import migrations

DAY = 86400
SUMS = "input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests"
EVENT_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)"
)
GRAIN_START = f"(CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT) / {DAY}) * {DAY}"


def build_day_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM usage_modelrollup WHERE grain_seconds = {DAY}")
        cursor.execute(
            f"INSERT INTO usage_modelrollup (tenant_id, grain_seconds, grain_start, model_id, "
            f"on_ticket, {SUMS}) "
            f"SELECT tenant_id, {DAY}, {GRAIN_START}, model_id, ticket_id IS NOT NULL, "
            f"{EVENT_SUMS} FROM usage_usageevent "
            "GROUP BY tenant_id, 3, model_id, ticket_id IS NOT NULL"
        )


def drop_day_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM usage_modelrollup WHERE grain_seconds = {DAY}")


class Migration(migrations.Migration):
    dependencies = [("usage", "0009_filter_indexes_on_usage_events")]

    operations = [migrations.RunPython(build_day_rows, drop_day_rows)]
