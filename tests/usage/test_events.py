"""usage_events_record: whole batches, idempotent by request_id, every bad field named."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tasks.models import Host
from tasks.services import host_delete, host_register, task_create
from tests.usage.usage_helpers import (
    event,
    mixed_events,
    model_with_plan,
    record,
    rollup_rows,
    ticket_for,
)
from usage.models import ConsumerRollup, HostRollup, ModelRollup, TicketRollup, UsageEvent
from usage.selectors import activity
from usage.services import UsageRefused, rollups_rebuild

AT = datetime(2026, 11, 1, 10, 3, 27, tzinfo=UTC)


@pytest.fixture
def gpt(tenant_a):
    return model_with_plan(tenant_a, "gpt-4o")


def _rollup_totals(tenant):
    """Input tokens summed at every grain of each rollup: (model, consumer, ticket) sets."""

    def per_grain(rollup):
        return {
            sum(r.input_tokens for r in rollup.objects.filter(tenant=tenant, grain_seconds=grain))
            for grain in rollup.objects.values_list("grain_seconds", flat=True).distinct()
        } or {0}

    return (per_grain(ModelRollup), per_grain(ConsumerRollup), per_grain(TicketRollup))


def test_a_batch_is_stored_with_its_rollups(tenant_a, gpt):
    ticket = ticket_for(tenant_a)
    result = record(
        tenant_a,
        [
            event(AT, "gpt-4o", input_tokens=5),
            event(AT, "gpt-4o", input_tokens=7, ticket=ticket.id),
        ],
    )
    assert (result.created, result.duplicates) == (2, 0)
    assert UsageEvent.objects.filter(tenant=tenant_a).count() == 2
    assert _rollup_totals(tenant_a) == ({12}, {12}, {7})


def test_a_re_post_counts_nothing_twice(tenant_a, gpt):
    batch = [event(AT, "gpt-4o", input_tokens=5), event(AT, "gpt-4o", input_tokens=7)]
    record(tenant_a, batch)
    again = record(tenant_a, [*batch, event(AT, "gpt-4o", input_tokens=1)])
    assert (again.received, again.created, again.duplicates) == (3, 1, 2)
    assert UsageEvent.objects.filter(tenant=tenant_a).count() == 3
    assert _rollup_totals(tenant_a)[:2] == ({13}, {13})


def test_the_same_request_id_in_two_tenants_is_two_events(tenant_a, tenant_b, gpt):
    model_with_plan(tenant_b, "gpt-4o")
    record(tenant_a, [event(AT, "gpt-4o", request_id="r-1")])
    assert record(tenant_b, [event(AT, "gpt-4o", request_id="r-1")]).created == 1


BAD_FIELDS = [
    ("request_id", ""),
    ("request_id", None),
    ("occurred_at", "2026-11-01T10:00:00"),
    ("occurred_at", "yesterday"),
    ("model", "gpt-9"),
    ("model", None),
    ("input_tokens", -1),
    ("input_tokens", 2**31),
    ("output_tokens", 1.5),
    ("output_tokens", "12"),
    ("cached_tokens", True),
    ("ticket", 999999),
    ("task", 999999),
    ("consumer", "x" * 201),
    ("consumer", 0),
    ("consumer", False),
    ("consumer", []),
    ("consumer", {}),
    ("consumer", "agent\x00a"),  # PostgreSQL cannot store a NUL character
    ("request_id", "run-\ud800"),  # nor a lone surrogate (valid JSON, not valid UTF-8)
    ("succeeded", "yes"),
    ("colour", "blue"),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS)
def test_a_bad_field_refuses_the_whole_batch_and_names_the_record_and_field(
    tenant_a, gpt, field, value
):
    bad = event(AT, "gpt-4o")
    bad[field] = value
    with pytest.raises(UsageRefused) as refused:
        record(tenant_a, [event(AT, "gpt-4o"), event(AT, "gpt-4o"), bad])
    assert refused.value.errors == {
        "events": {"2": {field: refused.value.errors["events"]["2"][field]}}
    }
    assert f"Event 2, field {field}:" in refused.value.detail
    assert UsageEvent.objects.count() == 0
    assert ModelRollup.objects.count() == 0


def test_a_time_more_than_a_day_ahead_is_refused(tenant_a, gpt):
    with pytest.raises(UsageRefused) as refused:
        record(tenant_a, [event(timezone.now() + timedelta(days=1, minutes=5), "gpt-4o")])
    assert "future" in refused.value.errors["events"]["0"]["occurred_at"][0]
    assert record(tenant_a, [event(timezone.now() + timedelta(hours=23), "gpt-4o")]).created == 1


def test_another_tenants_model_ticket_and_task_are_refused(tenant_a, tenant_b, gpt):
    model_with_plan(tenant_b, "only-in-b")
    their_ticket = ticket_for(tenant_b)
    with pytest.raises(UsageRefused) as refused:
        record(
            tenant_a,
            [event(AT, "only-in-b"), event(AT, "gpt-4o", ticket=their_ticket.id)],
        )
    assert set(refused.value.errors["events"]) == {"0", "1"}


def test_a_batch_over_1000_or_empty_or_with_a_repeated_request_id_is_refused(tenant_a, gpt):
    with pytest.raises(UsageRefused):
        record(tenant_a, [event(AT, "gpt-4o") for _ in range(1001)])
    with pytest.raises(UsageRefused):
        record(tenant_a, [])
    with pytest.raises(UsageRefused) as refused:
        record(
            tenant_a,
            [event(AT, "gpt-4o", request_id="same"), event(AT, "gpt-4o", request_id="same")],
        )
    assert "twice" in refused.value.errors["events"]["1"]["request_id"][0]
    assert record(tenant_a, [event(AT, "gpt-4o") for _ in range(1000)]).created == 1000


def test_rebuilding_the_rollups_from_the_events_gives_the_same_rows(tenant_a, gpt):
    ticket = ticket_for(tenant_a)
    record(tenant_a, mixed_events(AT, "gpt-4o", ticket, count=40, minutes=7))

    before = rollup_rows()
    rollups_rebuild(tenant=tenant_a)
    assert rollup_rows() == before


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_the_same_batch_count_it_once(tenant_a, gpt):
    batch = [
        event(AT + timedelta(seconds=i), "gpt-4o", input_tokens=3, consumer="a") for i in range(300)
    ]
    barrier = threading.Barrier(4)
    outcomes = []

    def post():
        try:
            barrier.wait()
            outcomes.append(record(tenant_a, list(reversed(batch)) if len(outcomes) % 2 else batch))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcome.created for outcome in outcomes) == 300
    assert UsageEvent.objects.filter(tenant=tenant_a).count() == 300
    assert _rollup_totals(tenant_a)[:2] == ({900}, {900})


def test_an_event_before_1970_is_refused_so_no_rollup_grain_is_negative(tenant_a, gpt):
    # Negative Unix seconds round one way in Python and the other in SQL: the floor
    # (2000-01-01) keeps the live rollups and rollups_rebuild in agreement.
    with pytest.raises(UsageRefused) as refused:
        record(tenant_a, [event(datetime(1969, 12, 31, 23, 50, tzinfo=UTC), "gpt-4o")])
    assert "2000-01-01" in refused.value.errors["events"]["0"]["occurred_at"][0]
    assert not ModelRollup.objects.exists() and not UsageEvent.objects.exists()


def _task(tenant, ticket=None):
    return task_create(tenant=tenant, title="Clean the disk", source="gateway", ticket=ticket)


def test_an_event_that_names_only_its_task_takes_the_tasks_ticket_and_is_costed(tenant_a, gpt):
    ticket = ticket_for(tenant_a)
    from_ticket, ad_hoc = _task(tenant_a, ticket), _task(tenant_a)

    record(
        tenant_a,
        [
            event(AT, "gpt-4o", request_id="on-task", task=from_ticket.id),
            event(AT, "gpt-4o", request_id="ad-hoc", task=ad_hoc.id),
            event(AT, "gpt-4o", request_id="both", task=from_ticket.id, ticket=ticket.id),
        ],
    )

    stored = dict(UsageEvent.objects.values_list("request_id", "ticket_id"))
    assert stored == {"on-task": ticket.id, "ad-hoc": None, "both": ticket.id}
    result = activity(tenant=tenant_a, start=AT, end=AT + timedelta(hours=1), mode="cost")
    assert result.top_tickets[0].tokens.total == 2 * 1500
    assert result.unattributed[0].tokens.total == 1500


@pytest.mark.parametrize(
    ("task_has_a_ticket", "message"),
    [
        (
            True,
            "Task {task} belongs to ticket {own}, not {other}: send the task's ticket or "
            "leave ticket out.",
        ),
        # A task with no ticket matches no ticket: its usage is not costed against one.
        (
            False,
            "Task {task} has no ticket, not {other}: leave ticket out, or send the usage "
            "on the ticket without the task.",
        ),
    ],
)
def test_an_event_whose_ticket_is_not_its_tasks_ticket_is_refused(
    tenant_a, gpt, task_has_a_ticket, message
):
    task = _task(tenant_a, ticket_for(tenant_a, "INC-1") if task_has_a_ticket else None)
    other = ticket_for(tenant_a, "INC-2")

    with pytest.raises(UsageRefused) as refused:
        record(
            tenant_a,
            [event(AT, "gpt-4o"), event(AT, "gpt-4o", task=task.id, ticket=other.id)],
        )

    assert refused.value.errors["events"]["1"]["ticket"] == [
        message.format(task=task.id, own=task.ticket_id, other=other.id)
    ]
    assert refused.value.detail.startswith("Event 1, field ticket:")
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("task", [[], {}, "1", 10**9])
def test_a_ticket_with_a_task_that_is_not_a_task_id_is_refused_on_task(tenant_a, gpt, task):
    ticket = ticket_for(tenant_a)

    with pytest.raises(UsageRefused) as refused:
        record(tenant_a, [event(AT, "gpt-4o", task=task, ticket=ticket.id)])

    assert refused.value.errors["events"]["0"] == {"task": ["No task with this id in your tenant."]}


def test_tasks_tickets_cost_no_query_per_event(tenant_a, gpt, django_assert_max_num_queries):
    ticket = ticket_for(tenant_a)
    tasks = [_task(tenant_a, ticket) for _ in range(3)]
    record(tenant_a, [event(AT, "gpt-4o", task=tasks[0].id)])  # warm the caches

    # 10 for the batch and its rollups, 4 for the month's budget (prices, settle, period).
    with django_assert_max_num_queries(14) as one:
        record(tenant_a, [event(AT, "gpt-4o", task=tasks[0].id)])
    host_register(tenant=tenant_a, name="web-01")
    with django_assert_max_num_queries(len(one) + 1):  # + one for the hosts named
        record(tenant_a, [event(AT, "gpt-4o", task=task.id, host="web-01") for task in tasks * 100])


def test_a_consumer_left_out_or_null_is_stored_as_none_given(tenant_a, gpt):
    absent = event(AT, "gpt-4o", request_id="absent")
    record(tenant_a, [absent, event(AT, "gpt-4o", request_id="null", consumer=None)])

    assert dict(UsageEvent.objects.values_list("request_id", "consumer")) == {
        "absent": "",
        "null": "",
    }


def _host_input(tenant) -> dict[int | None, int]:
    """Input tokens by host id (None: no host), from the day host rollups."""
    totals: dict[int | None, int] = {}
    for row in HostRollup.objects.filter(tenant=tenant, grain_seconds=86400):
        totals[row.host_id] = totals.get(row.host_id, 0) + row.input_tokens
    return totals


def test_an_event_names_its_host_or_takes_its_tasks_host(tenant_a, gpt):
    web = host_register(tenant=tenant_a, name="web-01")
    db = host_register(tenant=tenant_a, name="db-01")
    task = task_create(tenant=tenant_a, title="Clean disks", source="ui", host=db)
    record(
        tenant_a,
        [
            event(AT, "gpt-4o", input_tokens=5, host="web-01"),
            event(AT, "gpt-4o", input_tokens=7, task=task.id),  # the task's host
            event(AT, "gpt-4o", input_tokens=11, task=task.id, host="web-01"),  # named wins
            event(AT, "gpt-4o", input_tokens=13, host=None),
        ],
    )
    hosts = dict(UsageEvent.objects.values_list("input_tokens", "host_id"))
    assert hosts == {5: web.id, 7: db.id, 11: web.id, 13: None}
    assert _host_input(tenant_a) == {web.id: 16, db.id: 7, None: 13}


def test_an_unknown_or_shared_host_name_refuses_the_batch_naming_the_record(
    tenant_a, tenant_b, gpt
):
    host_register(tenant=tenant_b, name="theirs")
    Host.objects.create(tenant=tenant_a, name="twin")
    Host.objects.create(tenant=tenant_a, name="twin")
    with pytest.raises(UsageRefused) as refused:
        record(
            tenant_a,
            [
                event(AT, "gpt-4o"),
                event(AT, "gpt-4o", host="theirs"),
                event(AT, "gpt-4o", host="twin"),
            ],
        )
    errors = refused.value.errors["events"]
    assert "No host named 'theirs'" in errors["1"]["host"][0]
    assert "2 of your hosts are named 'twin'" in errors["2"]["host"][0]
    with pytest.raises(UsageRefused) as blank:
        record(tenant_a, [event(AT, "gpt-4o", host="")])
    assert blank.value.errors["events"]["0"]["host"] == [
        "A host is the name (a string) of one of your hosts."
    ]
    assert not UsageEvent.objects.exists()


def test_a_deleted_hosts_usage_stays_counted_as_no_host(tenant_a, gpt):
    web = host_register(tenant=tenant_a, name="web-01")
    record(tenant_a, mixed_events(AT, "gpt-4o", ticket_for(tenant_a), count=30, minutes=13))
    record(tenant_a, [event(AT, "gpt-4o", input_tokens=5, host="web-01")])
    assert _host_input(tenant_a) == {web.id: 5, None: sum(range(30))}

    host_delete(host=web)

    assert _host_input(tenant_a) == {None: sum(range(30)) + 5}
    assert UsageEvent.objects.filter(host__isnull=False).count() == 0
    before = rollup_rows()
    rollups_rebuild(tenant=tenant_a)
    assert rollup_rows() == before
