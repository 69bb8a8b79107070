"""Indexes for an activity filtered by consumer or host, which reads the range's events.

Built CONCURRENTLY (outside a transaction): the events table is the largest, and a plain
CREATE INDEX would block ingestion while it builds.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("licensing", "0004_api_tokens"),
        ("tasks", "0010_gateway_secret_hash_index"),
        ("usage", "0008_host_on_usage_events"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="usageevent",
            index=models.Index(
                fields=["tenant", "consumer", "occurred_at"], name="usage_event_consumer_time"
            ),
        ),
        AddIndexConcurrently(
            model_name="usageevent",
            index=models.Index(
                condition=models.Q(("host__isnull", False)),
                fields=["tenant", "host", "occurred_at"],
                name="usage_event_host_time",
            ),
        ),
    ]
