"""The operators' Overview in the Django admin: who may see it, its rows, order, filter, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from licensing.models import Tenant
from tests.factories import HostFactory, LicenseFactory, TenantFactory, active_license
from tests.usage.overview.helpers import (
    a_busy_tenant,
    activity,
    alert,
    endpoint,
    spend,
    task_snapshots,
    tasks_used,
)

pytestmark = pytest.mark.django_db
OVERVIEW = reverse("admin:overview")
CSV = reverse("admin:overview_csv")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def cast_of_tenants():
    """One tenant per risk, named so that alphabetical order is not the risk order."""
    now = timezone.now()
    rest = TenantFactory(name="Alpha rest")
    LicenseFactory(tenant=rest, expires_at=now + timedelta(days=200))
    ending = TenantFactory(name="Bravo ending")
    LicenseFactory(tenant=ending, expires_at=now + timedelta(days=10))
    near = TenantFactory(name="Charlie near")
    active_license(near, tasks=100)
    tasks_used(near, 92)
    at_cap = TenantFactory(name="Delta at cap", timezone="America/New_York")
    active_license(at_cap, hosts=1)
    HostFactory(tenant=at_cap)
    expired = TenantFactory(name="Echo expired")
    active_license(expired, expired=True)
    free = TenantFactory(name="Foxtrot free")
    return {"rest": rest, "ending": ending, "near": near, "at_cap": at_cap,
            "expired": expired, "free": free}  # fmt: skip


def _names(response) -> list[str]:
    return [row.name for row in response.context["rows"]]


@pytest.mark.parametrize("url", [OVERVIEW, CSV])
def test_anonymous_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [OVERVIEW, CSV])
def test_tenant_administrators_are_not_operators_and_never_see_it(client, admin_a, url):
    client.force_login(admin_a)  # is_staff but not is_superuser
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert b"Tenant A" not in response.content


def test_the_admin_index_links_to_the_overview(operator_client):
    response = operator_client.get(reverse("admin:index"))
    assert f'href="{OVERVIEW}"'.encode() in response.content


def test_tenants_are_sorted_by_risk(operator_client, cast_of_tenants):
    response = operator_client.get(OVERVIEW)
    assert response.status_code == 200
    # Foxtrot (free tier, nothing used) and Alpha (200 days left) are "the rest", by name.
    assert _names(response) == [
        "Echo expired", "Delta at cap", "Charlie near", "Bravo ending", "Alpha rest",
        "Foxtrot free",
    ]  # fmt: skip


def test_each_row_links_to_its_tenant_and_shows_used_of_cap(operator_client, cast_of_tenants):
    at_cap = cast_of_tenants["at_cap"]
    response = operator_client.get(OVERVIEW)
    page = response.content.decode()
    assert reverse("admin:licensing_tenant_change", args=[at_cap.pk]) in page
    row = response.context["rows"][1]
    assert row.name == "Delta at cap"
    hosts = row.usage[0]
    assert (hosts.dimension, hosts.used, hosts.cap, hosts.percent) == ("hosts", 1, 1, 100)
    assert "at or over a cap" in page
    assert "1 / 1" in page


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("expired", ["Echo expired"]),
        ("free_tier", ["Foxtrot free"]),
        ("licensed", ["Delta at cap", "Charlie near", "Bravo ending", "Alpha rest"]),
        ("nonsense", None),  # an unknown state is no filter
    ],
)
def test_the_state_filter_keeps_only_tenants_in_that_state(
    operator_client, cast_of_tenants, state, expected
):
    response = operator_client.get(OVERVIEW, {"state": state})
    assert _names(response) == (expected or _names(operator_client.get(OVERVIEW)))


def test_spend_alerts_endpoints_and_activity_are_the_tenants_own(operator_client):
    tokyo = TenantFactory(name="Tokyo", timezone="Asia/Tokyo")
    TenantFactory(name="Other")
    spend(tokyo, spent="7.25", limit="10")
    alert(tokyo, days_ago=2)
    alert(tokyo, days_ago=8, threshold=95)  # older than 7 days: not counted
    endpoint(tokyo, failing=True)
    endpoint(tokyo, disabled=True)
    endpoint(tokyo)  # healthy
    last = timezone.now().replace(microsecond=0, second=0, minute=0) - timedelta(hours=3)
    activity(tokyo, last)
    rows = {row.name: row for row in operator_client.get(OVERVIEW).context["rows"]}
    row = rows["Tokyo"]
    assert (str(row.spent_usd), str(row.budget_usd), row.spend_percent) == (
        "7.250000000000",
        "10.000000",
        72,
    )
    assert (row.alerts_last_7_days, row.failing_endpoints, row.disabled_endpoints) == (1, 1, 1)
    assert row.last_activity == last
    assert str(row.last_activity.tzinfo) == "Asia/Tokyo"
    assert (rows["Other"].alerts_last_7_days, rows["Other"].last_activity) == (0, None)
    page = operator_client.get(OVERVIEW).content.decode()
    local = last.astimezone(tokyo.zone)
    assert f'{local:%Y-%m-%d %H:%M} <span class="overview-muted">Asia/Tokyo</span>' in page
    assert "$7.25 of $10.00" in page
    assert "1 failing, 1 disabled" in page


def test_the_csv_has_the_rows_of_the_page_in_its_order_and_filter(operator_client, cast_of_tenants):
    response = operator_client.get(CSV, {"state": "licensed"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [line["tenant"] for line in lines] == [
        "Delta at cap", "Charlie near", "Bravo ending", "Alpha rest",
    ]  # fmt: skip
    at_cap, near, ending = lines[0], lines[1], lines[2]
    assert (at_cap["hosts_used"], at_cap["hosts_cap"], at_cap["hosts_percent"]) == ("1", "1", "100")
    assert at_cap["time_zone"] == "America/New_York"
    assert at_cap["risk"] == "at or over a cap"
    assert (near["tasks_used"], near["tasks_percent"]) == ("92", "92")
    assert near["gateways_cap"] == "5"
    assert ending["days_to_end"] == "10"
    assert ending["tasks_run_out_on"] == ""


def test_a_tenant_projected_to_run_out_before_its_license_ends_is_ranked_so(
    operator_client, cast_of_tenants
):
    golf = TenantFactory(name="Golf runs out", timezone="Asia/Tokyo")
    LicenseFactory(tenant=golf, tasks_cap=500, expires_at=timezone.now() + timedelta(days=100))
    tasks_used(golf, 70)  # 14 % of the cap: not near it
    task_snapshots(golf, [0, 10, 20, 30, 40, 50, 60, 70])  # 10 tasks a day for 7 days
    # 430 left at 10 a day: 43 days, well before the license's end in 100.
    runs_out_on = timezone.now().astimezone(golf.zone).date() + timedelta(days=43)

    response = operator_client.get(OVERVIEW)
    assert _names(response) == [
        "Echo expired", "Delta at cap", "Golf runs out", "Charlie near", "Bravo ending",
        "Alpha rest", "Foxtrot free",
    ]  # fmt: skip
    row = response.context["rows"][2]
    assert row.risk.label == "tasks projected to run out before the license ends"
    assert (row.runs_out_on, row.days_until_run_out) == (runs_out_on, 43)
    page = response.content.decode()
    assert f'{runs_out_on:%Y-%m-%d}</span><br><span class="overview-muted">in 43 days' in page
    # Charlie (92 % used, no snapshots) has no projection: "not enough data", no date.
    assert response.context["rows"][3].runs_out_on is None

    lines = list(csv.DictReader(io.StringIO(operator_client.get(CSV).content.decode())))
    golf_line = next(line for line in lines if line["tenant"] == "Golf runs out")
    assert (golf_line["tasks_run_out_on"], golf_line["tasks_run_out_in_days"]) == (
        runs_out_on.isoformat(),
        "43",
    )
    assert golf_line["risk"] == "tasks projected to run out before the license ends"


def test_the_page_sends_no_inline_style(operator_client, cast_of_tenants):
    page = operator_client.get(OVERVIEW).content.decode()
    assert "style=" not in page
    assert "css/admin_overview.css" in page


@pytest.mark.parametrize("tenants", [3, 300])
def test_the_query_count_does_not_grow_with_the_tenants(
    operator_client, django_assert_num_queries, tenants
):
    Tenant.objects.bulk_create(
        Tenant(name=f"Tenant {n}", slug=f"bulk-{n}", timezone="Europe/Paris")
        for n in range(tenants)
    )
    for n, tenant in enumerate(Tenant.objects.order_by("pk")[:3]):
        a_busy_tenant(tenant, n)
    operator_client.get(OVERVIEW)  # warm the session and content-type caches
    # session, user, the look for the user's tenant (operators have none), then the
    # overview's own four: the tenants with their figures, their active licenses, and the
    # task snapshots and active schedules of them all (the tasks projection)
    with django_assert_num_queries(7):
        response = operator_client.get(OVERVIEW)
    assert response.context["tenant_count"] == tenants
    assert len(response.context["rows"]) == min(tenants, 100)
    with django_assert_num_queries(7):
        operator_client.get(CSV)


def test_a_hundred_rows_a_page_the_riskiest_first_and_the_filter_kept(operator_client):
    Tenant.objects.bulk_create(Tenant(name=f"Quiet {n:03}", slug=f"quiet-{n}") for n in range(120))
    expired = TenantFactory(name="Zulu expired")
    active_license(expired, expired=True)
    first = operator_client.get(OVERVIEW)
    assert first.context["tenant_count"] == 121
    assert _names(first)[0] == "Zulu expired"
    assert len(first.context["rows"]) == 100
    assert b"Page 1 of 2" in first.content
    assert b'href="?page=2"' in first.content
    second = operator_client.get(OVERVIEW, {"page": 2})
    assert _names(second) == [f"Quiet {n:03}" for n in range(99, 120)]
    free = operator_client.get(OVERVIEW, {"state": "free_tier"})
    assert b'href="?state=free_tier&amp;page=2"' in free.content
    lines = operator_client.get(CSV).content.decode().splitlines()
    assert len(lines) == 1 + 121
