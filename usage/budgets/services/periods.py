"""A budget and its monthly period rows: set the budget, make the month's row, and tell
the notifications layer when a period's spent + reserved moved."""

from datetime import date, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from licensing.models import Tenant
from usage.budgets.models import Budget, BudgetPeriod
from usage.budgets.services.errors import BudgetRefused
from usage.budgets.signals import budget_usage_changed
from usage.projections import Month, month_of


def budget_set(
    *,
    tenant: Tenant,
    limit_usd: Decimal | None,
    limit_tokens: int | None,
    kind: str,
    acting_user=None,
    now: datetime | None = None,
) -> tuple[Budget | None, bool]:
    """Set the tenant's monthly budget from now on (the current month included); both limits
    None removes it. Returns (budget or None, created). The current period's limits (and any
    later period's, for usage dated ahead) change in the same transaction, so the next
    authorization compares with the new limits."""
    if kind not in Budget.Kind.values:
        raise BudgetRefused("The budget kind is hard or soft.", errors={"kind": ["hard or soft"]})
    month = month_of(now or timezone.now(), tenant.zone)
    with transaction.atomic(durable=True):
        if limit_usd is None and limit_tokens is None:
            Budget.objects.filter(tenant=tenant).delete()
            budget, created = None, False
        else:
            budget, created = Budget.objects.update_or_create(
                tenant=tenant,
                defaults={
                    "limit_usd": limit_usd,
                    "limit_tokens": limit_tokens,
                    "kind": kind,
                    "updated_by": acting_user,
                },
            )
        # Create the month's row first: an authorization inserting it concurrently (from the
        # old budget) is waited for by ON CONFLICT, so the UPDATE below always sees it.
        period_ensure(tenant.pk, month)
        hard = budget is not None and kind == Budget.Kind.HARD
        BudgetPeriod.objects.filter(tenant=tenant, month__gte=month.first_day).update(
            limit_usd=limit_usd, limit_tokens=limit_tokens, hard=hard
        )
    return budget, created


_ENSURE_SQL = """
INSERT INTO usage_budgetperiod (tenant_id, month, ends_at, limit_usd, limit_tokens, hard,
    spent_usd, spent_tokens, reserved_usd, reserved_tokens, latest_day_spent_usd)
SELECT %s, %s, %s, b.limit_usd, b.limit_tokens, coalesce(b.kind = 'hard', false), 0, 0, 0, 0, 0
FROM (SELECT 1) AS one LEFT JOIN usage_budget b ON b.tenant_id = %s
ON CONFLICT (tenant_id, month) DO NOTHING
"""


def period_ensure(tenant_id: int, month: Month) -> None:
    """The month's period row, from the budget in force (no budget: no limits)."""
    with connection.cursor() as cursor:
        cursor.execute(_ENSURE_SQL, [tenant_id, month.first_day, month.ends_at, tenant_id])


def send_changes(tenant_id: int, month: date, hard: bool, *, usd: tuple, tokens: tuple) -> None:
    """`budget_usage_changed` for each dimension whose spent + reserved moved."""
    for dimension, (before, after, limit) in (("usd", usd), ("tokens", tokens)):
        if before != after:
            budget_usage_changed.send(
                sender=BudgetPeriod,
                tenant_id=tenant_id,
                period=month,
                dimension=dimension,
                used_before=before,
                used_after=after,
                limit=limit,
                hard=hard,
            )
