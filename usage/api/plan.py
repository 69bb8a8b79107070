"""`GET /api/v1/usage/plan/`: the Plan-usage card as data (SPEC §6.1)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.selectors import DIMENSIONS
from licensing.tenancy import IsTenantAdmin
from usage.plan import plan_usage


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
}


class PlanUsageApi(APIView):
    """The caller's tenant: used against cap per entitlement, the kind and the license window."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses=PlanUsageSerializer,
        examples=[OpenApiExample("A contract near its hosts cap", value=PLAN_EXAMPLE)],
    )
    def get(self, request):
        return Response(PlanUsageSerializer(plan_usage(request.tenant)).data)
