from django.db import migrations

# The API rate limits' counters (config.throttling), one row per client and rate: UNLOGGED,
# so counting writes no WAL and a request never waits for a disk flush; PostgreSQL empties
# the table after a crash, which only restarts every client's current window. (0001's cache
# table held DRF's lists of request times before; nothing uses it now.)
CREATE = """
CREATE UNLOGGED TABLE tally_rate_counter (
    key text PRIMARY KEY,
    window_started_at timestamptz NOT NULL,
    requests integer NOT NULL
)
"""


class Migration(migrations.Migration):
    dependencies = [("tally", "0001_cache_table")]

    operations = [migrations.RunSQL(CREATE, "DROP TABLE tally_rate_counter")]
