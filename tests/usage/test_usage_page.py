"""The Usage page: who may open it, what it shows, the htmx section and bad ranges."""

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import LicenseFactory
from tests.usage.activity_helpers import record_usage
from tests.usage.plan_helpers import set_usage
from tests.usage.usage_helpers import event, model_with_plan, record, ticket_for
from usage.services import llm_model_create

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 403), ("operator", 403), ("admin_b", 200)]
)
def test_only_tenant_administrators_open_the_usage_page(cast, page_client_for, who, status):
    assert page_client_for(cast[who]).get("/usage/").status_code == status


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/usage/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/usage/"


def test_the_page_shows_the_plan_card_and_a_month_of_activity(tenant_a, admin_a, page_client_for):
    LicenseFactory(tenant=tenant_a, hosts_cap=10, gateways_cap=None, tasks_cap=100)
    set_usage(tenant_a, hosts=9, tasks=30)
    record_usage(tenant_a, events=60)

    response = page_client_for(admin_a).get("/usage/")

    content = response.content.decode()
    assert response.status_code == 200
    assert 'aria-valuenow="9"' in content and 'aria-valuemax="10"' in content
    assert "meter warning" in content  # hosts at 90 %
    assert "Unlimited" in content and "Contract" in content and "Perpetual" in content
    activity = response.context["activity"]
    assert (response.context["query"].range, response.context["query"].mode) == ("30d", "cost")
    assert activity.requests.total == 60
    assert f"{activity.tokens.total:,}" in content
    assert "Model gpt-mini has no pricing plan" in content


def test_an_expired_license_is_shown_in_the_colour_of_danger(tenant_a, admin_a, page_client_for):
    LicenseFactory(tenant=tenant_a, expires_at=datetime(2026, 1, 31, tzinfo=UTC))

    content = page_client_for(admin_a).get("/usage/").content.decode()

    assert 'data-testid="plan-expired"' in content and "badge danger" in content
    assert "Expired on 31 Jan 2026" in content


def test_another_tenants_administrator_sees_only_its_own_numbers(
    tenant_a, tenant_b, admin_b, page_client_for
):
    record_usage(tenant_a, events=40)
    set_usage(tenant_a, hosts=7, tasks=20)
    set_usage(tenant_b, hosts=2, tasks=3)

    response = page_client_for(admin_b).get("/usage/")

    assert response.context["activity"].requests.total == 0
    assert response.context["activity"].by_model == ()
    assert response.context["plan"].dimension("hosts").used == 2
    assert "gpt-mini" not in response.content.decode()


def test_tokens_mode_stacks_input_cached_and_output_and_cost_mode_draws_cost(
    tenant_a, admin_a, page_client_for
):
    record_usage(tenant_a, events=30)
    client = page_client_for(admin_a)

    tokens = client.get("/usage/", {"range": "7d", "mode": "tokens"}).context["chart"]
    cost = client.get("/usage/", {"range": "7d", "mode": "cost"}).context["chart"]

    assert [dataset["key"] for dataset in tokens["datasets"]] == ["input", "cached", "output"]
    assert [dataset["key"] for dataset in cost["datasets"]] == ["cost"]
    assert len(tokens["labels"]) == len(tokens["datasets"][0]["data"]) in (168, 169)


def test_bucket_labels_are_in_the_tenants_time_zone(tenant_a, admin_a, page_client_for):
    tenant_a.timezone = "Asia/Tokyo"
    tenant_a.save()

    response = page_client_for(admin_a).get(
        "/usage/", {"range": "custom", "start": "2026-03-10", "end": "2026-03-10"}
    )

    chart = response.context["chart"]
    assert chart["bucket"] == "5m" and len(chart["labels"]) == 288
    assert chart["labels"][0] == "10 Mar 00:00" and chart["labels"][-1] == "10 Mar 23:55"
    # The chart's data is in the page for usage.js, as JSON.
    script = re.search(r'id="activity-chart-data"[^>]*>(.*?)</script>', response.content.decode())
    assert json.loads(script.group(1))["labels"][0] == "10 Mar 00:00"


def test_an_htmx_request_gets_only_the_activity_section(tenant_a, admin_a, page_client_for):
    response = page_client_for(admin_a).get("/usage/", {"range": "24h", "mode": "tokens"}, **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<section id="activity"')
    assert "<html" not in content and 'data-testid="plan-card"' not in content
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(admin_a, page_client_for):
    response = page_client_for(admin_a).get(
        "/usage/", {"range": "7d"}, **HTMX, HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )

    assert "<html" in response.content.decode()


def test_the_controls_keep_the_range_and_the_mode_in_their_links(admin_a, page_client_for):
    content = page_client_for(admin_a).get("/usage/", {"range": "7d", "mode": "tokens"}).content
    content = content.decode()

    assert (
        'href="/usage/?range=7d&amp;mode=cost" hx-get="/usage/?range=7d&amp;mode=cost"' in content
    )
    assert 'href="/usage/?range=24h&amp;mode=tokens"' in content
    assert 'id="range-7d" href="/usage/?range=7d&amp;mode=tokens"' in content
    assert 'name="mode" value="tokens"' in content  # the custom-range form keeps the mode


def test_a_custom_range_is_whole_local_days_and_links_keep_it(tenant_a, admin_a, page_client_for):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()

    response = page_client_for(admin_a).get(
        "/usage/", {"range": "custom", "start": "2026-03-01", "end": "2026-03-31", "mode": "tokens"}
    )

    query = response.context["query"]
    assert query.start == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert query.end == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)  # summer time from 29 March
    content = response.content.decode()
    assert "range=custom&amp;mode=cost&amp;start=2026-03-01&amp;end=2026-03-31" in content
    assert (
        "/api/v1/usage/export.csv?start=2026-03-01T00%3A00%3A00%2B01%3A00"
        "&amp;end=2026-04-01T00%3A00%3A00%2B02%3A00" in content
    )


def test_the_csv_link_exports_the_range_shown(admin_a, page_client_for):
    now = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        response = page_client_for(admin_a).get("/usage/", {"range": "24h"})

    link = re.search(r'href="(/api/v1/usage/export.csv\?[^"]+)"', response.content.decode())
    assert link.group(1) == (
        "/api/v1/usage/export.csv?start=2026-05-09T12%3A00%3A00%2B00%3A00"
        "&amp;end=2026-05-10T12%3A00%3A00%2B00%3A00"
    )


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"range": "custom", "start": "2026-03-10", "end": "2026-03-01"},
            "The range ends before it starts",
        ),
        (
            {"range": "custom", "start": "2000-01-01", "end": "2026-01-01"},
            "are shown: choose a larger bucket or a shorter range",
        ),
        ({"range": "custom", "start": "2026-03-10"}, "needs both a start and an end date"),
        ({"range": "custom", "start": "not-a-date", "end": "2026-03-10"}, "Enter a valid date"),
        ({"mode": "dollars"}, "Select a valid choice"),
    ],
)
def test_a_bad_range_shows_a_clear_message_not_an_error_page(
    admin_a, page_client_for, params, message
):
    for headers in ({}, HTMX):
        response = page_client_for(admin_a).get("/usage/", params, **headers)

        assert response.status_code == 400
        content = response.content.decode()
        assert 'data-testid="activity-error"' in content and message in content
        assert 'id="range-30d"' in content  # the controls stay, to pick another range


def _page_queries(client, django_assert_max_num_queries, limit: int) -> None:
    with django_assert_max_num_queries(limit):
        assert client.get("/usage/", {"range": "30d"}).status_code == 200
    with django_assert_max_num_queries(limit):
        assert client.get("/usage/", {"range": "24h", "mode": "tokens"}, **HTMX).status_code == 200


# 3 for the session, user and tenant, 6 for the plan card with its projections and the
# budget card, the rest for `activity`.
PAGE_QUERY_LIMIT = 22


def _without_budget_card(content: str) -> str:
    """The page but the Budget card, whose $0.00 spent is a real figure, not a missing cost."""
    return re.sub(r'<section class="card budget-card".*?</section>', "", content, flags=re.S)


@pytest.mark.parametrize("events", [10, 10_000])
def test_the_page_takes_the_same_few_queries_with_10_or_10000_events(
    tenant_a, admin_a, page_client_for, django_assert_max_num_queries, events
):
    LicenseFactory(tenant=tenant_a, expires_at=datetime.now(UTC) + timedelta(days=30))
    record_usage(tenant_a, events=events)

    _page_queries(page_client_for(admin_a), django_assert_max_num_queries, PAGE_QUERY_LIMIT)


def test_the_csv_link_downloads_the_ranges_usage(tenant_a, admin_a, page_client_for):
    record_usage(tenant_a, events=20)
    client = page_client_for(admin_a)
    content = client.get("/usage/", {"range": "7d"}).content.decode()
    link = re.search(r'href="(/api/v1/usage/export.csv\?[^"]+)"', content).group(1)

    response = client.get(link.replace("&amp;", "&"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


def _cells(content: str, testid: str) -> list[str]:
    """The visible text of every element marked `data-testid=testid`, whitespace folded."""
    pattern = rf'<(\w+)[^>]*data-testid="{testid}"[^>]*>(.*?)</\1>'
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inner)).split())
        for _, inner in re.findall(pattern, content, re.S)
    ]


def test_usage_without_a_cost_is_never_shown_as_zero_dollars(tenant_a, admin_a, page_client_for):
    llm_model_create(tenant=tenant_a, name="no-plan", provider="P")
    model_with_plan(tenant_a, "priced")
    now = datetime.now(UTC)
    record(tenant_a, [event(now - timedelta(hours=1), "no-plan"), event(now, "priced")])

    content = page_client_for(admin_a).get("/usage/", {"range": "24h"}).content.decode()

    assert not re.search(r"\$0\.00(?!\d)", _without_budget_card(content))
    assert _cells(content, "model-cost") == ["no ticket", "no pricing plan"]
    assert _cells(content, "model-unattributed") == ["$0.0016", "—"]
    assert "Model no-plan has no pricing plan: define one. 1,500 tokens" in content
    assert _cells(content, "total-cost") == ["not costed"]
    assert _cells(content, "total-unattributed-spend") == ["$0.0016"]
    assert _cells(content, "total-whole-bill") == ["$0.0016"]


def test_a_model_with_ticket_usage_and_no_plan_links_to_define_one(
    tenant_a, admin_a, page_client_for
):
    model = llm_model_create(tenant=tenant_a, name="no-plan", provider="P")
    ticket = ticket_for(tenant_a)
    record(tenant_a, [event(datetime.now(UTC), "no-plan", ticket=ticket.id)])

    content = page_client_for(admin_a).get("/usage/", {"range": "24h"}).content.decode()

    assert _cells(content, "model-cost") == ["no pricing plan"]
    assert f'href="/usage/models/?model={model.id}#add-plan"' in content
    assert not re.search(r"\$0\.00(?!\d)", _without_budget_card(content))


@pytest.mark.parametrize(
    ("input_tokens", "shown"),
    [(4_200, "$0.0042"), (5_000, "$0.005"), (10, "< $0.0001"), (1_234_567_000, "$1,234.57")],
)
def test_real_costs_are_shown_to_the_cent_or_finer_when_small(
    tenant_a, admin_a, page_client_for, input_tokens, shown
):
    model_with_plan(tenant_a, "priced", prices=("1", "0", "0"))
    ticket = ticket_for(tenant_a)
    tokens = {"input_tokens": input_tokens, "output_tokens": 0, "cached_tokens": 0}
    record(tenant_a, [event(datetime.now(UTC), "priced", ticket=ticket.id, **tokens)])

    content = page_client_for(admin_a).get("/usage/", {"range": "24h"}).content.decode()

    assert _cells(content, "total-cost") == [shown]
    assert _cells(content, "model-cost") == [shown]
    assert _cells(content, "ticket-cost") == [shown]
    assert shown in _cells(content, "bucket-cost")
    assert not re.search(r"\$0\.00(?!\d)", _without_budget_card(content))


def _consumers_usage(tenant, count: int = 23) -> None:
    """One request for each of `count` consumers (agent-00 the most tokens), on a host."""
    from tasks.services import host_register

    model_with_plan(tenant, "priced")
    llm_model_create(tenant=tenant, name="no-plan", provider="P")
    host_register(tenant=tenant, name="web-01")
    now = datetime.now(UTC)
    record(
        tenant,
        [
            event(
                now - timedelta(minutes=n),
                "priced",
                consumer=f"agent-{n:02}",
                input_tokens=1000 - n,
                host="web-01" if n % 2 else None,
            )
            for n in range(count)
        ]
        + [event(now, "no-plan", consumer="agent-00")],
    )


def test_show_more_answers_the_next_ten_rows_and_offers_more_only_while_some_remain(
    tenant_a, admin_a, page_client_for
):
    _consumers_usage(tenant_a)
    client = page_client_for(admin_a)
    page = client.get("/usage/", {"range": "24h", "mode": "tokens"}).content.decode()
    assert len(re.findall(r'data-testid="top_consumers-row"', page)) == 10
    more = re.search(r'data-testid="top_consumers-more" hx-get="([^"]+)"', page).group(1)
    assert 'data-testid="by_model-more"' not in page  # two models: nothing more to show

    second = client.get(html.unescape(more), **HTMX).content.decode()
    names = re.findall(r'title="Show only (agent-\d+)"', second)
    assert names == [f"agent-{n:02}" for n in range(10, 20)]
    third_url = re.search(r'data-testid="top_consumers-more" hx-get="([^"]+)"', second).group(1)
    third = client.get(html.unescape(third_url), **HTMX).content.decode()
    assert re.findall(r'title="Show only (agent-\d+)"', third) == [
        "agent-20",
        "agent-21",
        "agent-22",
    ]
    assert "Show more" not in third


@pytest.mark.parametrize(
    ("params", "status"),
    [({"offset": "x"}, 400), ({"offset": "0"}, 400), ({"offset": "10", "model": "gpt-9"}, 400)],
)
def test_show_more_with_a_bad_offset_or_filter_is_a_400(
    tenant_a, admin_a, page_client_for, params, status
):
    response = page_client_for(admin_a).get("/usage/breakdowns/top_consumers/", params, **HTMX)
    assert response.status_code == status
    assert page_client_for(admin_a).get("/usage/breakdowns/nothing/").status_code == 404


def test_a_filter_narrows_the_section_shows_a_chip_and_its_link_clears_it(
    tenant_a, admin_a, page_client_for
):
    _consumers_usage(tenant_a)
    client = page_client_for(admin_a)
    response = client.get("/usage/", {"range": "24h", "mode": "tokens", "host": "web-01"}, **HTMX)
    content = response.content.decode()
    assert response.context["activity"].requests.total == 11  # the odd consumers
    assert _cells(content, "filter-chip") == ["Host: web-01 ×"]
    assert 'href="/usage/?range=7d&amp;mode=tokens&amp;host=web-01"' in content  # kept
    clear = re.search(r'class="chip-clear" href="([^"]+)"', content).group(1)
    assert html.unescape(clear) == "/usage/?range=24h&mode=tokens"
    # A row links to narrowing by it, keeping the filter already set.
    assert "/usage/?range=24h&amp;mode=tokens&amp;consumer=agent-01&amp;host=web-01" in content

    refused = client.get("/usage/", {"range": "24h", "host": "nowhere"}, **HTMX)
    assert refused.status_code == 400
    assert "No host named &#x27;nowhere&#x27;" in refused.content.decode()
    assert "Host: nowhere" in _cells(refused.content.decode(), "filter-chip")[0]  # clearable


def test_tokens_mode_shows_token_cards_and_cost_mode_the_cost_cards_and_warnings(
    tenant_a, admin_a, page_client_for
):
    _consumers_usage(tenant_a)
    client = page_client_for(admin_a)
    tokens = client.get("/usage/", {"range": "24h", "mode": "tokens"}).content.decode()
    cost = client.get("/usage/", {"range": "24h", "mode": "cost"}).content.decode()

    assert 'data-testid="total-tokens"' in tokens and 'data-testid="total-cached-share"' in tokens
    for card in ("total-cost", "whole-bill-card", "unattributed-spend-card", "uncosted"):
        assert f'data-testid="{card}"' not in tokens
        assert f'data-testid="{card}"' in cost
    assert "has no pricing plan" not in _without_budget_card(tokens)
    assert "Model no-plan has no pricing plan" in cost
    assert 'data-testid="total-tokens"' not in cost
    assert _cells(cost, "top_consumers-cost")[0] == "$0.0016 + unpriced"  # agent-00
