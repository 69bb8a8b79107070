"""The usage part of seed_demo: models, a price change in the middle of 30 days of usage."""

from datetime import timedelta

from django.utils import timezone

from tests.usage.usage_helpers import ticket_for
from usage.demo import DAYS, seed_usage
from usage.models import LlmModel, UsageEvent
from usage.selectors import activity


def test_the_demo_prices_its_usage_with_a_change_in_the_middle_of_the_range(tenant_a):
    ticket_for(tenant_a)

    stored = seed_usage(tenant_a)

    assert stored == UsageEvent.objects.filter(tenant=tenant_a).count() > 10_000
    gpt = LlmModel.objects.get(tenant=tenant_a, name="gpt-4o")
    first, change = gpt.pricing_plans.order_by("effective_at")
    now = timezone.now()
    assert first.effective_at < now - timedelta(days=DAYS) < change.effective_at < now
    month = activity(tenant=tenant_a, start=now - timedelta(days=DAYS), end=now, mode="cost")
    assert month.cost.total > 0
    assert [usage.name for usage in month.unpriced] == ["llama-local"]
