"""The notifications API (SPEC §6.1, §7): endpoints, alerts, deliveries, mutes. Administrators
only; every lookup is filtered by the caller's tenant (another tenant's id is a 404)."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin, TenantRequest
from usage.api.fields import StrictBooleanField
from usage.notifications import channels, selectors
from usage.notifications.models import Alert, AlertType, Attempt, Delivery, Endpoint, Mute
from usage.notifications.rules import QUOTA_THRESHOLDS

DIMENSION_CHOICES = ["", "hosts", "gateways", "tasks"]


class EndpointSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="healthy, failing or disabled")

    class Meta:
        model = Endpoint
        fields = ["id", "kind", "url", "description", "status", "failing_since", "disabled_at",
                  "created_at"]  # fmt: skip
        read_only_fields = ["id", "status", "failing_since", "disabled_at", "created_at"]


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The signing secret (whsec_...), shown this once; null for Slack.",
    )

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


def _created(result: channels.EndpointWithSecret, *, code: int) -> Response:
    data = EndpointCreatedSerializer(result.endpoint).data
    data["secret"] = result.secret
    # The answer holds the secret: never kept by a client cache or a proxy.
    return Response(data, status=code, headers={"Cache-Control": "no-store"})


class EndpointListCreateApi(generics.ListCreateAPIView):
    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = EndpointSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.live_endpoints(self.request.tenant)

    @extend_schema(request=EndpointSerializer, responses={201: EndpointCreatedSerializer})
    def post(self, request, *args, **kwargs):
        data = EndpointSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = channels.endpoint_create(tenant=request.tenant, **data.validated_data)
        return _created(result, code=status.HTTP_201_CREATED)


class EndpointDetailApi(generics.RetrieveDestroyAPIView):
    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = EndpointSerializer

    def get_queryset(self):
        return selectors.live_endpoints(self.request.tenant)

    def perform_destroy(self, instance: Endpoint) -> None:
        channels.endpoint_remove(endpoint=instance)


class EndpointRotateSecretApi(APIView):
    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={200: EndpointCreatedSerializer})
    def post(self, request, pk: int):
        endpoint = get_object_or_404(selectors.live_endpoints(request.tenant), pk=pk)
        return _created(channels.endpoint_rotate_secret(endpoint=endpoint), code=200)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["started_at", "finished_at", "outcome", "status_code", "latency_ms",
                  "response_excerpt", "error"]  # fmt: skip


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField(source="alert.event_id")
    alert = serializers.IntegerField(source="alert_id")
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "alert", "event_id", "channel", "endpoint", "status", "created_at",
                  "delivered_at", "next_attempt_at", "last_error", "attempts"]  # fmt: skip


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "event_id", "type", "dimension", "threshold", "scope", "raised_at",
                  "muted", "rearmed_at", "payload"]  # fmt: skip


class EndpointTestApi(APIView):
    """Send a `test` event to this endpoint; it shows in the alert log like any alert."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={202: AlertSerializer})
    def post(self, request, pk: int):
        endpoint = get_object_or_404(selectors.live_endpoints(request.tenant), pk=pk)
        alert = channels.send_test_event(endpoint=endpoint)
        return Response(AlertSerializer(alert).data, status=status.HTTP_202_ACCEPTED)


class AlertListApi(generics.ListAPIView):
    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = AlertSerializer

    def get_queryset(self):
        return Alert.objects.filter(tenant=self.request.tenant)


class DeliveryListApi(generics.ListAPIView):
    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = DeliverySerializer

    def get_queryset(self):
        return selectors.tenant_deliveries(self.request.tenant)


class RedeliverApi(APIView):
    """Send a delivered or failed delivery again (same event id); 409 while still pending."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request, pk: int):
        delivery = get_object_or_404(selectors.tenant_deliveries(request.tenant), pk=pk)
        delivery = channels.redeliver(delivery=delivery)
        return Response(
            DeliverySerializer(
                selectors.tenant_deliveries(request.tenant).get(pk=delivery.pk)
            ).data,
            status=status.HTTP_202_ACCEPTED,
        )


class MuteSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(choices=[t for t in AlertType.values if t != AlertType.TEST])
    dimension = serializers.ChoiceField(choices=DIMENSION_CHOICES, required=False, default="")
    threshold = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=100,
        help_text=f"Percent ({', '.join(map(str, QUOTA_THRESHOLDS))}) or days (30, 7, 1, 0); "
        "null mutes every threshold.",
    )

    class Meta:
        model = Mute
        fields = ["type", "dimension", "threshold"]
        validators: list[Any] = []  # duplicates in one PUT are merged, not refused


class MutesSerializer(serializers.Serializer):
    mutes = MuteSerializer(many=True)
    email_enabled = StrictBooleanField(required=False)


class MutesApi(APIView):
    """The tenant's mutes as a whole: PUT replaces them (and may switch email on or off)."""

    permission_classes = [IsTenantAdmin]

    def _answer(self, request) -> Response:
        mutes = MuteSerializer(selectors.tenant_mutes(request.tenant), many=True).data
        return Response({"mutes": mutes, "email_enabled": selectors.email_on(request.tenant)})

    @extend_schema(responses={200: MutesSerializer})
    def get(self, request):
        return self._answer(request)

    @extend_schema(request=MutesSerializer, responses={200: MutesSerializer})
    def put(self, request):
        data = MutesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        channels.mutes_replace(tenant=request.tenant, mutes=data.validated_data["mutes"])
        if "email_enabled" in data.validated_data:
            channels.email_set(tenant=request.tenant, enabled=data.validated_data["email_enabled"])
        return self._answer(request)
