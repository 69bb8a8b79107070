"""usage/migrations/0004 rebuilds the rollups with SQL frozen in the migration."""

import importlib
from datetime import UTC, datetime

from django.apps import apps
from django.db import connection

from tests.usage.usage_helpers import mixed_events, model_with_plan, record, rollup_rows, ticket_for
from usage.models import ConsumerRollup, ModelRollup

AT = datetime(2026, 11, 1, 10, 3, 27, tzinfo=UTC)


def test_migration_0004_rebuilds_the_rollups_the_services_keep(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        model_with_plan(tenant, "gpt-4o")
        ticket = ticket_for(tenant)
        record(tenant, mixed_events(AT, "gpt-4o", ticket, count=60, minutes=11))
    kept = rollup_rows()
    ModelRollup.objects.filter(tenant=tenant_a).delete()
    ConsumerRollup.objects.update(input_tokens=0)  # a stale row is replaced, not added to
    migration = importlib.import_module("usage.migrations.0004_rebuild_rollups_at_every_grain")

    with connection.schema_editor() as schema_editor:
        migration.rebuild(apps, schema_editor)

    assert len(kept) > 100
    assert rollup_rows() == kept
