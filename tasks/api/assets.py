"""The tasks, hosts and gateways API (SPEC §6.1); every create goes through tasks.services.

A refusal leaves through config.api's handler as 403 `{"code", "detail", "dimension",
"used", "cap"}`; another tenant's object is simply not in the queryset, so it is a 404.
"""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from licensing.tenancy import IsTenantAdmin, IsTenantMember, MemberReadsAdminWrites, TenantRequest
from tasks import services
from tasks.models import Gateway, Host, Task
from tasks.models.tasks import TASK_DESCRIPTION_MAX_LENGTH

REFUSAL = OpenApiResponse(
    description="Refused: `task_cap_reached` / `host_cap_reached` / `gateway_cap_reached` / "
    "`license_expired`, with `dimension`, `used` and `cap`."
)


def _call_service(create):
    """The service's ValidationError as DRF's 400; its domain refusals pass through."""
    try:
        return create()
    except DjangoValidationError as error:
        detail = error.message_dict if hasattr(error, "error_dict") else error.messages
        raise serializers.ValidationError(detail) from error


class TenantHostField(serializers.PrimaryKeyRelatedField):
    """A host id of the caller's tenant; any other id is "does not exist"."""

    def __init__(self, **kwargs) -> None:
        super().__init__(queryset=Host.objects.all(), **kwargs)  # narrowed per request below

    def get_queryset(self):
        return Host.objects.filter(tenant=self.context["request"].tenant)


class TaskSerializer(serializers.ModelSerializer):
    creator: "serializers.SlugRelatedField[User]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "title",
            "description",
            "kind",
            "source",
            "host",
            "creator",
            "ticket",
            "created_at",
        ]
        read_only_fields = fields


class TaskCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=TASK_DESCRIPTION_MAX_LENGTH
    )
    host = TenantHostField(required=False, allow_null=True, default=None)


class TaskListCreateApi(generics.ListCreateAPIView):
    """Members list the tenant's tasks and create tasks (counted against the lifetime cap)."""

    request: TenantRequest

    permission_classes = [IsTenantMember]
    serializer_class = TaskSerializer

    def get_queryset(self):
        return Task.objects.filter(tenant=self.request.tenant).select_related("creator")

    @extend_schema(request=TaskCreateSerializer, responses={201: TaskSerializer, 403: REFUSAL})
    def post(self, request, *args, **kwargs):
        data = TaskCreateSerializer(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        task = _call_service(
            lambda: services.task_create(
                tenant=request.tenant,
                source=Task.Source.API,
                creator=request.user,
                **data.validated_data,
            )
        )
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(generics.RetrieveDestroyAPIView):
    """Members read a task; administrators delete it (the lifetime count does not go down)."""

    request: TenantRequest

    permission_classes = [MemberReadsAdminWrites]
    serializer_class = TaskSerializer

    def get_queryset(self):
        return Task.objects.filter(tenant=self.request.tenant).select_related("creator")

    def perform_destroy(self, instance: Task) -> None:
        services.task_delete(task=instance)


class HostSerializer(serializers.ModelSerializer):
    class Meta:
        model = Host
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class HostListCreateApi(generics.ListCreateAPIView):
    """Members list hosts; administrators register them within the hosts cap."""

    request: TenantRequest

    permission_classes = [MemberReadsAdminWrites]
    serializer_class = HostSerializer

    def get_queryset(self):
        return Host.objects.filter(tenant=self.request.tenant)

    @extend_schema(responses={201: HostSerializer, 403: REFUSAL})
    def post(self, request, *args, **kwargs):
        data = HostSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        host = _call_service(
            lambda: services.host_register(tenant=request.tenant, name=data.validated_data["name"])
        )
        return Response(HostSerializer(host).data, status=status.HTTP_201_CREATED)


class HostDetailApi(generics.RetrieveDestroyAPIView):
    """Members read a host; administrators delete it, which frees its slot."""

    request: TenantRequest

    permission_classes = [MemberReadsAdminWrites]
    serializer_class = HostSerializer

    def get_queryset(self):
        return Host.objects.filter(tenant=self.request.tenant)

    def perform_destroy(self, instance: Host) -> None:
        services.host_delete(host=instance)


class GatewaySerializer(serializers.ModelSerializer):
    delivery_url = serializers.SerializerMethodField()

    class Meta:
        model = Gateway
        fields = ["id", "name", "kind", "delivery_url", "created_at", "revoked_at"]
        read_only_fields = ["id", "delivery_url", "created_at", "revoked_at"]

    def get_delivery_url(self, gateway: Gateway) -> str:
        return f"/api/v1/gateways/{gateway.pk}/tickets/"


class GatewayCreatedSerializer(GatewaySerializer):
    secret = serializers.CharField(
        read_only=True, help_text="The ingest secret, shown in this answer only."
    )

    class Meta(GatewaySerializer.Meta):
        fields = [*GatewaySerializer.Meta.fields, "secret"]


class GatewayListCreateApi(generics.ListCreateAPIView):
    """Administrators list the registered gateways and create them within the gateways cap."""

    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = GatewaySerializer

    def get_queryset(self):
        return Gateway.objects.registered().filter(tenant=self.request.tenant)

    @extend_schema(responses={201: GatewayCreatedSerializer, 403: REFUSAL})
    def post(self, request, *args, **kwargs):
        data = GatewaySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        gateway, secret = _call_service(
            lambda: services.gateway_create(tenant=request.tenant, **data.validated_data)
        )
        gateway.secret = secret
        return Response(
            GatewayCreatedSerializer(gateway).data,
            status=status.HTTP_201_CREATED,
            # The answer holds the ingest secret: never kept by a client cache or a proxy.
            headers={"Cache-Control": "no-store"},
        )


class GatewayDetailApi(generics.RetrieveDestroyAPIView):
    """Administrators read a gateway (revoked ones too) and remove it: DELETE revokes it.

    A revoked gateway frees its slot and its deliveries are refused; it is kept, with its
    tickets. Deleting a revoked gateway again is a 204 that changes nothing.
    """

    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = GatewaySerializer

    def get_queryset(self):
        return Gateway.objects.filter(tenant=self.request.tenant)

    def perform_destroy(self, instance: Gateway) -> None:
        services.gateway_revoke(gateway=instance)
