"""`/api/v1/models/`: the tenant's LLM models and their pricing plans (SPEC §6.1)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.api.fields import PlanTimeField, StrictDecimalField
from usage.models import LlmModel, PricingPlan
from usage.selectors import llm_model_list
from usage.services import llm_model_create, pricing_plan_create


class PricingPlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = PricingPlan
        fields = [
            "id",
            "input_per_million",
            "output_per_million",
            "cached_per_million",
            "effective_at",
        ]


class LlmModelSerializer(serializers.ModelSerializer):
    pricing_plans = PricingPlanSerializer(many=True, read_only=True)

    class Meta:
        model = LlmModel
        fields = ["id", "name", "provider", "pricing_plans"]
        read_only_fields = ["id", "pricing_plans"]


class LlmModelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    provider = serializers.CharField(max_length=200)


class PricingPlanInputSerializer(serializers.Serializer):
    input_per_million = StrictDecimalField(max_digits=14, decimal_places=6, min_value=0)
    output_per_million = StrictDecimalField(max_digits=14, decimal_places=6, min_value=0)
    cached_per_million = StrictDecimalField(max_digits=14, decimal_places=6, min_value=0)
    effective_at = PlanTimeField(
        help_text="With an offset; on a quarter hour in UTC (…:00, :15, :30, :45); not "
        "before now nor at or before the model's latest recorded usage (400 "
        "`pricing_plan_in_the_past`) unless before the model's first plan."
    )


class LlmModelsApi(APIView):
    """The tenant's LLM models with their pricing plans; create one."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=LlmModelSerializer(many=True))
    def get(self, request):
        models = llm_model_list(tenant=request.tenant)
        return Response(LlmModelSerializer(models, many=True).data)

    @extend_schema(
        request=LlmModelInputSerializer,
        responses={201: LlmModelSerializer},
        examples=[
            OpenApiExample(
                "A model", value={"name": "gpt-4o", "provider": "OpenAI"}, request_only=True
            )
        ],
    )
    def post(self, request):
        serializer = LlmModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = llm_model_create(tenant=request.tenant, **serializer.validated_data)
        return Response(LlmModelSerializer(model).data, status=status.HTTP_201_CREATED)


class PricingPlanCreateApi(APIView):
    """Add a pricing plan to a model; it applies from its time on, never to earlier usage."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=PricingPlanInputSerializer,
        responses={201: PricingPlanSerializer},
        examples=[
            OpenApiExample(
                "A price change",
                value={
                    "input_per_million": "2.50",
                    "output_per_million": "10.00",
                    "cached_per_million": "1.25",
                    "effective_at": "2026-12-01T00:00:00+01:00",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, model_id: int):
        model = get_object_or_404(LlmModel, pk=model_id, tenant=request.tenant)
        serializer = PricingPlanInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = pricing_plan_create(model=model, **serializer.validated_data)
        return Response(PricingPlanSerializer(plan).data, status=status.HTTP_201_CREATED)
