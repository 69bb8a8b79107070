"""The budget API (SPEC §8.2): `GET/PUT /api/v1/usage/budget/`, `POST /api/v1/usage/authorize/`."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.api.fields import StrictDecimalField
from usage.budgets.models import Budget
from usage.budgets.selectors import BudgetCard, BudgetDimension, budget_card
from usage.budgets.services import Authorization, authorize, budget_set
from usage.models import TOKENS_LIMIT
from usage.pricing import optional_decimal_text

BUDGET_TOKENS_LIMIT = 2**63 - 1


class BudgetInputSerializer(serializers.Serializer):
    limit_usd = StrictDecimalField(
        max_digits=18,
        decimal_places=6,
        min_value=Decimal(0),
        allow_null=True,
        required=False,
        help_text="USD per calendar month (tenant's zone); null: no USD limit.",
    )
    limit_tokens = serializers.IntegerField(
        min_value=0,
        max_value=BUDGET_TOKENS_LIMIT,
        allow_null=True,
        required=False,
        help_text="All tokens (input, output, cached) per month; null: no token limit.",
    )
    kind = serializers.ChoiceField(
        choices=Budget.Kind.values,
        help_text="hard: calls that would pass it are refused; soft: allowed, and alerted.",
    )


def _dimension(dimension: BudgetDimension, *, money: bool) -> dict:
    text: Callable[[Any], object] = optional_decimal_text if money else (lambda value: value)
    return {
        "limit": text(dimension.limit),
        "spent": text(dimension.spent),
        "reserved": text(dimension.reserved),
        "remaining": text(dimension.remaining),
        "percent": dimension.percent,
    }


def budget_as_data(card: BudgetCard) -> dict:
    """The budget API's JSON: the budget (null: none), this month's period, the projection."""
    budget = card.budget
    spend = card.spend
    return {
        "budget": None
        if budget is None
        else {
            "limit_usd": optional_decimal_text(budget.limit_usd),
            "limit_tokens": budget.limit_tokens,
            "kind": budget.kind,
            "updated_at": budget.updated_at.isoformat(),
        },
        "period": {
            "month": f"{card.month.first_day:%Y-%m}",
            "starts_at": card.month.starts_at.isoformat(),
            "ends_at": card.month.ends_at.isoformat(),
            "usd": _dimension(card.usd, money=True),
            "tokens": _dimension(card.tokens, money=False),
        },
        "spend": {
            "month_to_date_usd": optional_decimal_text(spend.month_to_date_usd),
            "average_per_day_usd": optional_decimal_text(spend.average_per_day_usd),
            "projected_month_end_usd": optional_decimal_text(spend.projected_month_end_usd),
        },
    }


BUDGET_EXAMPLE = {
    "budget": {
        "limit_usd": "500",
        "limit_tokens": None,
        "kind": "hard",
        "updated_at": "2026-11-03T09:12:00+00:00",
    },
    "period": {
        "month": "2026-11",
        "starts_at": "2026-10-31T23:00:00+00:00",
        "ends_at": "2026-11-30T23:00:00+00:00",
        "usd": {"limit": "500", "spent": "123.45", "reserved": "1.2", "remaining": "375.35"},
        "tokens": {"limit": None, "spent": 8100000, "reserved": 12000, "remaining": None},
    },
    "spend": {
        "month_to_date_usd": "123.45",
        "average_per_day_usd": "41.15",
        "projected_month_end_usd": "1234.5",
    },
}


class BudgetApi(APIView):
    """The tenant's monthly LLM budget and this month's spent, reserved and remaining."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses={200: dict},
        examples=[OpenApiExample("A hard USD budget", value=BUDGET_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        return Response(budget_as_data(budget_card(request.tenant)))

    @extend_schema(
        request=BudgetInputSerializer,
        responses={200: dict, 201: dict},
        description="201 when the tenant had no budget, 200 when it changed one. Both limits "
        "null (or left out) removes the budget. It applies from now on, this month included.",
    )
    def put(self, request):
        serializer = BudgetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _, created = budget_set(
            tenant=request.tenant,
            limit_usd=data.get("limit_usd"),
            limit_tokens=data.get("limit_tokens"),
            kind=data["kind"],
            acting_user=request.user,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(budget_as_data(budget_card(request.tenant)), status=code)


class AuthorizeInputSerializer(serializers.Serializer):
    request_id = serializers.CharField(
        max_length=200, help_text="The usage event's request_id: it settles this reservation."
    )
    model = serializers.CharField(max_length=200, help_text="The name of one of your models.")
    input_tokens = serializers.IntegerField(min_value=0, max_value=TOKENS_LIMIT)
    max_output_tokens = serializers.IntegerField(min_value=0, max_value=TOKENS_LIMIT)
    consumer = serializers.CharField(
        max_length=200, required=False, allow_blank=True, allow_null=True
    )
    ticket = serializers.IntegerField(required=False, allow_null=True)


class AuthorizationSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    reservation_id = serializers.IntegerField()
    reserved_usd = serializers.CharField(help_text="Exact decimal text.")
    remaining_usd = serializers.CharField(allow_null=True, help_text="null: no USD limit.")
    remaining_tokens = serializers.IntegerField(allow_null=True)
    period_ends_at = serializers.DateTimeField()
    priced = serializers.BooleanField(help_text="false: the model has no plan; $0 reserved.")


def authorization_as_data(result: Authorization) -> dict:
    return {
        "allowed": result.allowed,
        "reservation_id": result.reservation_id,
        "reserved_usd": optional_decimal_text(result.reserved_usd),
        "remaining_usd": optional_decimal_text(result.remaining_usd),
        "remaining_tokens": result.remaining_tokens,
        "period_ends_at": result.period_ends_at.isoformat(),
        "priced": result.priced,
    }


class AuthorizeApi(APIView):
    """Before an LLM call: may it spend? Reserves its estimated cost on this month's budget."""

    permission_classes = [IsTenantAdmin]  # the usage events' permission (a `usage` token later)

    @extend_schema(
        request=AuthorizeInputSerializer,
        responses={200: AuthorizationSerializer},
        examples=[
            OpenApiExample(
                "Refused",
                value={
                    "code": "budget_exhausted",
                    "detail": "The hard LLM budget for November 2026 is exhausted: ...",
                    "budget": {"kind": "hard", "month": "2026-11", "limit_usd": "10"},
                    "spent_usd": "9.5",
                    "reserved_usd": "0.4",
                },
                response_only=True,
                status_codes=["403"],
            )
        ],
        description="200 with the reservation (the same one when a request_id is asked "
        "again), or 403 `budget_exhausted` when a hard budget would be passed.",
    )
    def post(self, request):
        serializer = AuthorizeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = authorize(tenant=request.tenant, **serializer.validated_data)
        return Response(authorization_as_data(result))
