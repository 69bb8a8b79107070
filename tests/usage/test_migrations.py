"""usage/migrations/0004, 0008, 0010, 0011 and 0012 rebuild the rollups with SQL frozen there."""

import importlib
from datetime import UTC, datetime

from django.apps import apps
from django.db import connection

from tasks.models import Host
from tests.usage.usage_helpers import mixed_events, model_with_plan, record, rollup_rows, ticket_for
from usage.models import ConsumerRollup, HostRollup, ModelRollup, TicketRollup

AT = datetime(2026, 11, 1, 10, 3, 27, tzinfo=UTC)
HOUR_GRAIN = importlib.import_module("usage.migrations.0011_summary_rollups_hour_grain")
SIX_HOUR_GRAIN = importlib.import_module("usage.migrations.0012_summary_rollups_six_hour_grain")


def test_migration_0004_rebuilds_the_rollups_the_services_keep(tenant_a, tenant_b, monkeypatch):
    for tenant in (tenant_a, tenant_b):
        model_with_plan(tenant, "gpt-4o")
        ticket = ticket_for(tenant)
        record(tenant, mixed_events(AT, "gpt-4o", ticket, count=60, minutes=11))
    kept = rollup_rows()
    ModelRollup.objects.filter(tenant=tenant_a).delete()
    TicketRollup.objects.update(input_tokens=0)  # a stale row is replaced, not added to
    migration = importlib.import_module("usage.migrations.0004_rebuild_rollups_at_every_grain")
    # Its consumer rollups had no model (0008 gave them one and rebuilt them: tested below).
    monkeypatch.setattr(
        migration, "REBUILDS", [r for r in migration.REBUILDS if r[0] != "usage_consumerrollup"]
    )

    day_grain = importlib.import_module("usage.migrations.0010_model_rollup_day_grain")

    with connection.schema_editor() as schema_editor:
        migration.rebuild(apps, schema_editor)
        day_grain.build_day_rows(apps, schema_editor)  # the grains added later, as migrate runs
        HOUR_GRAIN.build_hour_rows(apps, schema_editor)
        SIX_HOUR_GRAIN.build_six_hour_rows(apps, schema_editor)

    assert len(kept) > 100
    assert rollup_rows() == kept


def test_migration_0008_rebuilds_the_consumer_and_host_rollups_the_services_keep(
    tenant_a, tenant_b
):
    _record_with_hosts([tenant_a, tenant_b], minutes=11, hostless_every=4)
    kept = rollup_rows()
    HostRollup.objects.filter(tenant=tenant_a).delete()
    ConsumerRollup.objects.update(input_tokens=0)  # a stale row is replaced, not added to
    migration = importlib.import_module("usage.migrations.0008_host_on_usage_events")

    with connection.schema_editor() as schema_editor:
        migration.rebuild(apps, schema_editor)
        HOUR_GRAIN.build_hour_rows(apps, schema_editor)  # the grains 0011 and 0012 added
        SIX_HOUR_GRAIN.build_six_hour_rows(apps, schema_editor)

    assert HostRollup.objects.filter(host__isnull=False).count() > 10
    assert rollup_rows() == kept


def test_migration_0010_builds_the_day_rows_of_the_model_rollup_the_services_keep(
    tenant_a, tenant_b
):
    for tenant in (tenant_a, tenant_b):
        model_with_plan(tenant, "gpt-4o")
        ticket = ticket_for(tenant)
        record(tenant, mixed_events(AT, "gpt-4o", ticket, count=60, minutes=47))
    kept = rollup_rows()
    ModelRollup.objects.filter(tenant=tenant_a, grain_seconds=86400).delete()
    ModelRollup.objects.filter(grain_seconds=86400).update(input_tokens=0)  # replaced, not added to
    migration = importlib.import_module("usage.migrations.0010_model_rollup_day_grain")

    with connection.schema_editor() as schema_editor:
        migration.build_day_rows(apps, schema_editor)

    assert ModelRollup.objects.filter(grain_seconds=86400).count() >= 4  # 2 days, 2 tenants
    assert rollup_rows() == kept


def test_migration_0011_builds_the_hour_rows_of_the_summary_rollups_the_services_keep(
    tenant_a, tenant_b
):
    _record_with_hosts([tenant_a, tenant_b], minutes=47, hostless_every=3)
    kept = rollup_rows()
    for rollup in (ConsumerRollup, HostRollup, TicketRollup):
        rollup.objects.filter(tenant=tenant_a, grain_seconds=3600).delete()
        rollup.objects.filter(grain_seconds=3600).update(input_tokens=0)  # replaced, not added to

    with connection.schema_editor() as schema_editor:
        HOUR_GRAIN.build_hour_rows(apps, schema_editor)

    for rollup in (ConsumerRollup, HostRollup, TicketRollup):
        assert rollup.objects.filter(grain_seconds=3600).count() >= 4  # 2 tenants, 2+ hours
    assert rollup_rows() == kept


def test_migration_0012_builds_the_six_hour_rows_of_the_summary_rollups_the_services_keep(
    tenant_a, tenant_b
):
    _record_with_hosts([tenant_a, tenant_b], minutes=47, hostless_every=3)  # 47 hours
    kept = rollup_rows()
    for rollup in (ConsumerRollup, HostRollup, TicketRollup):
        rollup.objects.filter(tenant=tenant_a, grain_seconds=21600).delete()
        rollup.objects.filter(grain_seconds=21600).update(input_tokens=0)  # replaced, not added

    with connection.schema_editor() as schema_editor:
        SIX_HOUR_GRAIN.build_six_hour_rows(apps, schema_editor)

    for rollup in (ConsumerRollup, HostRollup, TicketRollup):
        starts = set(rollup.objects.filter(grain_seconds=21600).values_list("grain_start"))
        assert {start % 21600 for (start,) in starts} == {0} and len(starts) >= 8
    assert rollup_rows() == kept


def _record_with_hosts(tenants, *, minutes: int, hostless_every: int) -> None:
    """Mixed usage for each tenant, on host web-01 but every `hostless_every`th event."""
    for tenant in tenants:
        model_with_plan(tenant, "gpt-4o")
        ticket = ticket_for(tenant)
        Host.objects.create(tenant=tenant, name="web-01")
        events = mixed_events(AT, "gpt-4o", ticket, count=60, minutes=minutes)
        for i, one in enumerate(events):
            one["host"] = "web-01" if i % hostless_every else None
        record(tenant, events)
