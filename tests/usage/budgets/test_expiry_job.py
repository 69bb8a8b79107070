"""The worker gives back unsettled reservations after 15 minutes (SPEC §8.2), as a real job."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from tests.usage.budgets.budget_helpers import hard_budget, period_of, priced_model
from tests.usage.notifications.conftest import run_worker_until
from usage.budgets.jobs import expire_reservations
from usage.budgets.services import authorize

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_expires_a_reservation_left_unsettled_for_15_minutes(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    started = timezone.now()
    with time_machine.travel(started - timedelta(minutes=16), tick=False):
        authorize(
            tenant=tenant_a,
            request_id="forgotten",
            model="gpt-4o",
            input_tokens=2_000_000,
            max_output_tokens=0,
        )
    authorize(
        tenant=tenant_a,
        request_id="in-flight",
        model="gpt-4o",
        input_tokens=1_000_000,
        max_output_tokens=0,
    )
    assert period_of(tenant_a).reserved_usd == Decimal("3")

    expire_reservations.defer(timestamp=int(started.timestamp()))
    run_worker_until(lambda: period_of(tenant_a).reserved_usd == Decimal("1"))

    assert period_of(tenant_a).spent_usd == 0
