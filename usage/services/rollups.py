"""Keeping the rollups in step with the events: added per batch, rebuilt on demand."""

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connection, transaction

from licensing.models import Tenant
from tasks.models import Host
from usage.models import (
    MODEL_GRAINS,
    SUMMARY_GRAINS,
    ConsumerRollup,
    HostRollup,
    ModelRollup,
    TicketRollup,
    UsageEvent,
)
from usage.selectors.figures import Sums
from usage.selectors.rollups import ROW_SUMS_SQL, SUM_COLUMNS
from usage.services.array_insert import array_columns, array_insert_sql

if TYPE_CHECKING:
    from usage.services.events import Event


def rollups_add(*, tenant: Tenant, events: Iterable["Event"]) -> None:
    """Add new events to every rollup, in the caller's transaction."""
    by_model: dict[tuple, Sums] = defaultdict(Sums)
    by_consumer: dict[tuple, Sums] = defaultdict(Sums)
    by_ticket: dict[tuple, Sums] = defaultdict(Sums)
    by_host: dict[tuple, Sums] = defaultdict(Sums)
    for e in events:
        seconds = int(e.occurred_at.timestamp())
        sums = Sums(
            e.input_tokens, e.output_tokens, e.cached_tokens, int(e.succeeded), int(not e.succeeded)
        )
        on_ticket = e.ticket_id is not None
        for grain in MODEL_GRAINS:
            by_model[(grain, seconds - seconds % grain, e.model_id, on_ticket)].add(sums)
        for grain in SUMMARY_GRAINS:
            start = seconds - seconds % grain
            by_consumer[(grain, start, e.consumer, e.model_id)].add(sums)
            by_host[(grain, start, e.host_id, e.model_id)].add(sums)
            if on_ticket:
                by_ticket[(grain, start, e.ticket_id, e.model_id)].add(sums)
    bucket = {"grain_seconds": "integer", "grain_start": "bigint"}  # key columns: SQL types
    model = {"model_id": "bigint"}
    _upsert(ModelRollup, {**bucket, **model, "on_ticket": "boolean"}, tenant, by_model)
    _upsert(ConsumerRollup, {**bucket, "consumer": "text", **model}, tenant, by_consumer)
    _upsert(TicketRollup, {**bucket, "ticket_id": "bigint", **model}, tenant, by_ticket)
    # host_id may be NULL (no host): the key is NULLS NOT DISTINCT, so ON CONFLICT matches it.
    _upsert(HostRollup, {**bucket, "host_id": "bigint", **model}, tenant, by_host)


def _upsert(model, key_columns: dict[str, str], tenant: Tenant, sums: dict[tuple, Sums]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE adding the sums; `key_columns` are {name: SQL type}.

    Keys are sorted so concurrent batches lock rollup rows in one order (no deadlock).
    """
    if not sums:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = {**key_columns, **dict.fromkeys(SUM_COLUMNS, "bigint")}
    adds = _adding(table)
    rows = [(*key, *sums[key].values()) for key in sorted(sums, key=_sortable)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"{array_insert_sql(table, constants=('tenant_id',), columns=columns)} "
            f"ON CONFLICT (tenant_id, {', '.join(key_columns)}) DO UPDATE SET {adds}",
            [tenant.id, *array_columns(rows, len(columns))],
        )


def _adding(table: str) -> str:
    """ON CONFLICT's SET: the sums of the row coming in added to the row already there."""
    return ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUM_COLUMNS)


def _sortable(key: tuple) -> tuple:
    """A rollup key that sorts with None in it (no host): None first."""
    return tuple((value is not None, value) for value in key)


def rollups_host_fold(*, host_id: int) -> None:
    """Move a host's rollup rows to "no host", in the caller's transaction (the host's
    deletion): its events' host becomes null, so their usage stays counted, as no host."""
    table = connection.ops.quote_name(HostRollup._meta.db_table)
    keys = "tenant_id, grain_seconds, grain_start, host_id, model_id"
    adds = _adding(table)
    with connection.cursor() as cursor:
        # Waits for batches still storing usage on this host (their foreign-key check holds
        # a share lock on it), so none adds to its rows after they are folded.
        hosts = connection.ops.quote_name(Host._meta.db_table)
        cursor.execute(f"SELECT id FROM {hosts} WHERE id = %s FOR UPDATE", [host_id])
        cursor.execute(
            f"INSERT INTO {table} ({keys}, {ROW_SUMS_SQL}) "
            f"SELECT tenant_id, grain_seconds, grain_start, NULL, model_id, {ROW_SUMS_SQL} "
            f"FROM {table} WHERE host_id = %s ORDER BY grain_seconds, grain_start, model_id "
            f"ON CONFLICT ({keys}) DO UPDATE SET {adds}",
            [host_id],
        )
        cursor.execute(f"DELETE FROM {table} WHERE host_id = %s", [host_id])


def rollups_rebuild(*, tenant: Tenant) -> None:
    """Recompute the tenant's rollups from its raw events (after a bulk load, or a repair).

    Run it while nothing ingests for the tenant: a batch landing during the rebuild
    would be counted in the rollups twice or not at all.
    """
    with transaction.atomic(durable=True):
        rollups_rebuild_within(tenant_id=tenant.id)


_EPOCH_SQL = "CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT)"  # whole Unix seconds
_REBUILD_SUMS = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)"
)
# (rollup, grains, its key columns after the grain, the same selected from the events)
_REBUILDS = (
    (ModelRollup, MODEL_GRAINS, "model_id, on_ticket", "model_id, ticket_id IS NOT NULL", ""),
    (ConsumerRollup, SUMMARY_GRAINS, "consumer, model_id", "consumer, model_id", ""),
    (HostRollup, SUMMARY_GRAINS, "host_id, model_id", "host_id, model_id", ""),
    (TicketRollup, SUMMARY_GRAINS, "ticket_id, model_id", "ticket_id, model_id",
     "AND ticket_id IS NOT NULL"),
)  # fmt: skip


def rollups_rebuild_within(*, tenant_id: int) -> None:
    """`rollups_rebuild` inside the caller's transaction.

    Inserted in time order, as ingestion appends them: a range's rows then share heap
    pages (in hash order, each row of a range read was on a page of its own).
    """
    quote = connection.ops.quote_name
    events = quote(UsageEvent._meta.db_table)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for rollup, grains, keys, selected, condition in _REBUILDS:
            rollup.objects.filter(tenant_id=tenant_id).delete()
            for grain in grains:
                cursor.execute(
                    f"INSERT INTO {quote(rollup._meta.db_table)} "
                    f"(tenant_id, grain_seconds, grain_start, {keys}, {ROW_SUMS_SQL}) "
                    f"SELECT tenant_id, {grain}, ({_EPOCH_SQL} / {grain}) * {grain}, {selected}, "
                    f"{_REBUILD_SUMS} FROM {events} WHERE tenant_id = %s {condition} "
                    f"GROUP BY tenant_id, 3, {selected} ORDER BY 3",
                    [tenant_id],
                )
