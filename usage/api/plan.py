"""`GET /api/v1/usage/plan/`: the Plan-usage card as data (SPEC §6.1)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.selectors import DIMENSIONS
from licensing.tenancy import IsTenantAdmin
from usage.plan import plan_usage_with_projections
from usage.projections import TaskStatus


class DimensionUsageSerializer(serializers.Serializer):
    """A `usage.plan.DimensionUsage`: used against cap in one dimension."""

    used = serializers.IntegerField(
        help_text="Registered now (hosts, gateways); ever created (tasks)."
    )
    cap = serializers.IntegerField(allow_null=True, help_text="null means unlimited.")
    percent = serializers.FloatField(allow_null=True, help_text="used / cap, null when unlimited.")


class EntitlementsUsageSerializer(serializers.Serializer):
    """`PlanUsage.entitlements`: one `DimensionUsage` per dimension."""

    def get_fields(self) -> dict:
        return {name: DimensionUsageSerializer() for name in DIMENSIONS}


class TaskProjectionSerializer(serializers.Serializer):
    """A `usage.projections.TaskProjection` (SPEC §8.1): when the tasks cap is reached."""

    tasks_per_day = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        allow_null=True,
        help_text="Tasks a day over the last 7 complete local days (fewer when the history is "
        "shorter), schedule ticks left out; null: not enough data yet.",
    )
    schedule_ticks_per_day = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        help_text="The known ticks a day of the active recurring schedules, added to the rate.",
    )
    cap_reached_on = serializers.DateField(
        allow_null=True,
        help_text="The local date the tasks cap is reached at that rate; null unless the "
        "status is runs_out_before_license_end or runs_out_within_a_year.",
    )
    days_until_cap = serializers.IntegerField(allow_null=True, help_text="Days from today.")
    status = serializers.ChoiceField(
        choices=list(TaskStatus.__args__),  # type: ignore[attr-defined]
        help_text="no_cap, reached, not_enough_data (under 3 days of history), "
        "runs_out_before_license_end, runs_out_within_a_year (perpetual), outlasts_license, "
        "not_within_a_year (perpetual).",
    )


class SpendBudgetSerializer(serializers.Serializer):
    """The budget beside the spend projection (SPEC §8.2)."""

    limit_usd = serializers.DecimalField(max_digits=24, decimal_places=6, allow_null=True)
    limit_tokens = serializers.IntegerField(allow_null=True)
    kind = serializers.ChoiceField(choices=["hard", "soft"])
    projected_over = serializers.BooleanField(help_text="The projected month end passes limit_usd.")


class SpendProjectionSerializer(serializers.Serializer):
    """A `usage.projections.SpendProjection`: this calendar month's LLM spend (tenant's zone)."""

    month_to_date_usd = serializers.DecimalField(
        max_digits=24, decimal_places=6, help_text="The whole bill since the month began."
    )
    average_per_day_usd = serializers.DecimalField(
        max_digits=24,
        decimal_places=6,
        allow_null=True,
        help_text="Per complete day of the month; null on its first day.",
    )
    projected_month_end_usd = serializers.DecimalField(
        max_digits=24,
        decimal_places=6,
        allow_null=True,
        help_text="The average times the month's days (never below month_to_date_usd).",
    )
    budget = SpendBudgetSerializer(allow_null=True, help_text="null: no budget set.")


class PlanUsageSerializer(serializers.Serializer):
    """A `usage.plan.PlanUsage` as the API shows it; the page shows the same object."""

    state = serializers.ChoiceField(choices=["free_tier", "licensed", "expired"])
    kind = serializers.ChoiceField(choices=["free_tier", "contract", "trial"])
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True, help_text="null: perpetual or free tier.")
    perpetual = serializers.BooleanField()
    days_remaining = serializers.IntegerField(allow_null=True)
    expired = serializers.BooleanField()
    entitlements = EntitlementsUsageSerializer(help_text="Used against cap per dimension.")
    days_elapsed = serializers.IntegerField(
        allow_null=True, help_text="Local days since the contract start (0 on its first day)."
    )
    projection = TaskProjectionSerializer(help_text="When the tasks cap is reached (§8.1).")
    spend = SpendProjectionSerializer(
        source="budget.spend", help_text="This month's LLM spend and its projection (§8.1)."
    )


PLAN_EXAMPLE = {
    "state": "licensed",
    "kind": "contract",
    "starts_at": "2026-01-01T00:00:00Z",
    "ends_at": "2027-01-01T00:00:00Z",
    "perpetual": False,
    "days_remaining": 40,
    "expired": False,
    "entitlements": {
        "hosts": {"used": 9, "cap": 10, "percent": 90.0},
        "gateways": {"used": 3, "cap": None, "percent": None},
        "tasks": {"used": 311, "cap": 500, "percent": 62.2},
    },
    "days_elapsed": 325,
    "projection": {
        "tasks_per_day": "8.57",
        "schedule_ticks_per_day": "1.00",
        "cap_reached_on": "2026-12-12",
        "days_until_cap": 20,
        "status": "runs_out_before_license_end",
    },
    "spend": {
        "month_to_date_usd": "41.200000",
        "average_per_day_usd": "2.060000",
        "projected_month_end_usd": "61.800000",
        "budget": {
            "limit_usd": "50.000000",
            "limit_tokens": None,
            "kind": "hard",
            "projected_over": True,
        },
    },
}


class PlanUsageApi(APIView):
    """The caller's tenant: used against cap per entitlement, the kind and the license window,
    when the tasks cap runs out and where this month's LLM spend lands."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses=PlanUsageSerializer,
        examples=[OpenApiExample("A contract near its hosts cap", value=PLAN_EXAMPLE)],
    )
    def get(self, request):
        return Response(PlanUsageSerializer(plan_usage_with_projections(request.tenant)).data)
