"""The Usage page in Chromium with a hard budget near its limit and a projected run-out:
the plan and budget cards side by side, bars drawn under the Content-Security-Policy."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.browser.test_usage_page import _logged_in_page, demo  # noqa: F401, F811 (the fixture)
from usage.budgets.models import Budget, BudgetPeriod
from usage.projections import month_of
from usage.task_counts import TaskCountSnapshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def near_the_limits(demo):  # noqa: F811
    """7 days of 40 tasks a day before today, and a hard $50 budget with $46 spent."""
    tenant = demo
    now = timezone.now()
    today = now.astimezone(tenant.zone).date()
    used = tenant.task_counter.used if hasattr(tenant, "task_counter") else 0
    TaskCountSnapshot.objects.filter(tenant=tenant).delete()
    TaskCountSnapshot.objects.bulk_create(
        TaskCountSnapshot(
            tenant=tenant,
            day=today - timedelta(days=7 - n),
            tasks_used=used - 40 * (7 - n),
            schedule_ticks_created=0,
            taken_at=now,
        )
        for n in range(8)
    )
    Budget.objects.update_or_create(
        tenant=tenant, defaults={"limit_usd": Decimal(50), "kind": Budget.Kind.HARD}
    )
    month = month_of(now, tenant.zone)
    BudgetPeriod.objects.update_or_create(
        tenant=tenant,
        month=month.first_day,
        defaults={
            "ends_at": month.ends_at,
            "limit_usd": Decimal(50),
            "hard": True,
            "spent_usd": Decimal("44.5"),
            "reserved_usd": Decimal("1.5"),
        },
    )
    return tenant


def test_the_usage_page_shows_the_run_out_and_the_budget_near_its_limit(
    near_the_limits, browser, live_server, screenshot
):
    page = _logged_in_page(browser, live_server)
    page.goto(f"{live_server.url}/usage/")
    banner = page.get_by_test_id("usage-banner")
    assert "hard LLM USD budget is at 92 %" in banner.inner_text()
    projection = page.get_by_test_id("plan-projection").inner_text()
    assert "runs out on" in projection or "outlasts" in projection
    spent = page.locator("[data-testid=budget-usd] .meter > span").first
    width = spent.evaluate(
        "e => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width"
    )
    assert 0.88 < width < 0.9  # $44.50 of $50, drawn by usage.js (no style attribute)
    assert page.js_errors == []
    plan_box = page.get_by_test_id("plan-card").bounding_box()
    budget_box = page.get_by_test_id("budget-card").bounding_box()
    assert abs(plan_box["y"] - budget_box["y"]) < 2  # side by side on a wide screen
    screenshot(page, "usage-projection-budget-wide")
    screenshot(page, "usage-projection-budget-phone-top", full_page=False)
