"""The consumer, host and ticket rollups gain a 6-hour grain (21600 s): a day's range then
reads three 6-hour grains and the hours at its edges, about half the rows it read in
hours (bench/activity.py, 1,000,000 events: its consumers, hosts and tickets read
1,481 rows instead of 3,099; the 24 h activity 11-13 ms -> 8.6 ms). Built from each
rollup's own hour rows (6 hours are whole hours, so the sums are the same).

The SQL is frozen here, as the tables were at 0011: a migration never imports live code.
"""

from django.db import migrations

SIX_HOURS, HOUR = 21600, 3600
SUMS = "input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests"
SUMMED = ", ".join(f"SUM({column})" for column in SUMS.split(", "))
TABLES = (
    ("usage_consumerrollup", "consumer"),
    ("usage_hostrollup", "host_id"),
    ("usage_ticketrollup", "ticket_id"),
)


def build_six_hour_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, key in TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE grain_seconds = {SIX_HOURS}")
            cursor.execute(
                f"INSERT INTO {table} (tenant_id, grain_seconds, grain_start, {key}, model_id, "
                f"{SUMS}) SELECT tenant_id, {SIX_HOURS}, grain_start / {SIX_HOURS} * {SIX_HOURS}, "
                f"{key}, model_id, {SUMMED} FROM {table} WHERE grain_seconds = {HOUR} "
                f"GROUP BY tenant_id, 3, {key}, model_id ORDER BY 3"
            )


def drop_six_hour_rows(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for table, _ in TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE grain_seconds = {SIX_HOURS}")


class Migration(migrations.Migration):
    dependencies = [("usage", "0011_summary_rollups_hour_grain")]

    operations = [migrations.RunPython(build_six_hour_rows, drop_six_hour_rows)]
