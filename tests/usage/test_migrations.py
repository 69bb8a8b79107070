"""usage/migrations/0004 rebuilds the rollups with SQL frozen in the migration."""

import importlib
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.db import connection

from tests.usage.usage_helpers import event, model_with_plan, record, ticket_for
from usage.models import ConsumerRollup, ModelRollup, TicketRollup

AT = datetime(2026, 11, 1, 10, 3, 27, tzinfo=UTC)
ROLLUPS = (ModelRollup, ConsumerRollup, TicketRollup)


def _snapshot():
    return sorted(
        (rollup.__name__, *map(str, row))
        for rollup in ROLLUPS
        for row in rollup.objects.values_list(
            *[f.attname for f in rollup._meta.concrete_fields if f.attname != "id"]
        )
    )


def test_migration_0004_rebuilds_the_rollups_the_services_keep(tenant_a, tenant_b):
    for tenant in (tenant_a, tenant_b):
        model_with_plan(tenant, "gpt-4o")
        ticket = ticket_for(tenant)
        record(
            tenant,
            [
                event(
                    AT + timedelta(minutes=11 * i),
                    "gpt-4o",
                    input_tokens=i,
                    ticket=ticket.id if i % 2 else None,
                    consumer=f"c{i % 3}",
                    succeeded=i % 5 != 0,
                )
                for i in range(60)
            ],
        )
    kept = _snapshot()
    ModelRollup.objects.filter(tenant=tenant_a).delete()
    ConsumerRollup.objects.update(input_tokens=0)  # a stale row is replaced, not added to
    migration = importlib.import_module("usage.migrations.0004_rebuild_rollups_at_every_grain")

    with connection.schema_editor() as schema_editor:
        migration.rebuild(apps, schema_editor)

    assert len(kept) > 100
    assert _snapshot() == kept
