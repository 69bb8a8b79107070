from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.models import License, Tenant
from licensing.selectors import (
    DIMENSIONS,
    license_history,
    tenant_entitlements,
    tenant_used,
)
from licensing.services import license_apply
from licensing.tenancy import IsTenantAdmin, TenantRequest


class TenantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "timezone", "license_subject"]


class TenantApi(APIView):
    """The caller's own tenant."""

    serializer_class = TenantSerializer

    def get(self, request):
        return Response(TenantSerializer(request.tenant).data)


class CapsSerializer(serializers.Serializer):
    """A cap per dimension; null is unlimited."""

    hosts = serializers.IntegerField(allow_null=True)
    gateways = serializers.IntegerField(allow_null=True)
    tasks = serializers.IntegerField(allow_null=True)


class LicenseSerializer(serializers.ModelSerializer):
    caps = CapsSerializer(read_only=True)
    perpetual = serializers.BooleanField(source="is_perpetual", read_only=True)
    applied_by = serializers.SerializerMethodField(
        help_text="The username of who applied it, kept if the user is deleted; null when "
        "no user did (the system)."
    )

    class Meta:
        model = License
        fields = [
            "id",
            "jti",
            "kind",
            "customer",
            "caps",
            "issued_at",
            "starts_at",
            "expires_at",
            "perpetual",
            "status",
            "applied_by",
            "applied_at",
            "archived_at",
        ]

    def get_applied_by(self, license: License) -> str | None:
        return license.applied_by_name or None


class UsageLineSerializer(serializers.Serializer):
    used = serializers.IntegerField()
    cap = serializers.IntegerField(allow_null=True)


class UsageSerializer(serializers.Serializer):
    hosts = UsageLineSerializer()
    gateways = UsageLineSerializer()
    tasks = UsageLineSerializer()


class LicenseStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=["free_tier", "licensed", "expired"])
    kind = serializers.ChoiceField(choices=["free_tier", "contract", "trial"])
    license_subject = serializers.UUIDField(
        help_text="The tenant's license ID: send it to the vendor, who puts it in `sub`."
    )
    starts_at = serializers.DateTimeField(allow_null=True)
    ends_at = serializers.DateTimeField(allow_null=True)
    perpetual = serializers.BooleanField()
    days_remaining = serializers.IntegerField(allow_null=True)
    caps = CapsSerializer()
    usage = UsageSerializer(help_text="Hosts and gateways registered now; tasks ever created.")
    license = LicenseSerializer(allow_null=True)


class LicenseApplySerializer(serializers.Serializer):
    token = serializers.CharField(
        allow_blank=True, trim_whitespace=True, help_text="The license JWT from the vendor."
    )


class RefusalSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


def license_state(tenant: Tenant) -> dict:
    entitlements = tenant_entitlements(tenant)
    used = tenant_used(tenant)
    return {
        "state": entitlements.state,
        "kind": entitlements.kind,
        "license_subject": tenant.license_subject,
        "starts_at": entitlements.starts_at,
        "ends_at": entitlements.ends_at,
        "perpetual": entitlements.is_perpetual,
        "days_remaining": entitlements.days_remaining(),
        "caps": entitlements.caps,
        "usage": {d: {"used": used[d], "cap": entitlements.cap(d)} for d in DIMENSIONS},
        "license": entitlements.license,
    }


_LICENSED_EXAMPLE = {
    "state": "licensed",
    "kind": "contract",
    "license_subject": "6f1c2a4e-8d3b-4f5a-9c7e-2b1d0e3f4a5b",
    "starts_at": "2026-01-01T00:00:00Z",
    "ends_at": "2027-01-01T00:00:00Z",
    "perpetual": False,
    "days_remaining": 40,
    "caps": {"hosts": 12, "gateways": 5, "tasks": 500},
    "usage": {
        "hosts": {"used": 7, "cap": 12},
        "gateways": {"used": 2, "cap": 5},
        "tasks": {"used": 311, "cap": 500},
    },
    "license": {
        "id": 3,
        "jti": "0b9e4f8a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
        "kind": "contract",
        "customer": "Acme Robotics",
        "caps": {"hosts": 12, "gateways": 5, "tasks": 500},
        "issued_at": "2026-01-01T00:00:00Z",
        "starts_at": "2026-01-01T00:00:00Z",
        "expires_at": "2027-01-01T00:00:00Z",
        "perpetual": False,
        "status": "active",
        "applied_by": "admin",
        "applied_at": "2026-01-02T09:30:00Z",
        "archived_at": None,
    },
}


class LicenseApi(APIView):
    """The tenant's license state (GET) and applying a new license token (POST)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        summary="The license state, active license, caps and usage",
        responses={200: LicenseStateSerializer},
        examples=[
            OpenApiExample("Licensed", value=_LICENSED_EXAMPLE, response_only=True),
            OpenApiExample(
                "Free tier",
                response_only=True,
                value={
                    **_LICENSED_EXAMPLE,
                    "state": "free_tier",
                    "kind": "free_tier",
                    "starts_at": None,
                    "ends_at": None,
                    "days_remaining": None,
                    "caps": {"hosts": 10, "gateways": None, "tasks": 50},
                    "usage": {
                        "hosts": {"used": 2, "cap": 10},
                        "gateways": {"used": 1, "cap": None},
                        "tasks": {"used": 12, "cap": 50},
                    },
                    "license": None,
                },
            ),
        ],
    )
    def get(self, request):
        return Response(LicenseStateSerializer(license_state(request.tenant)).data)

    @extend_schema(
        summary="Apply a license token",
        description=(
            "Verifies the token and makes it the active license; the previous one is archived. "
            "A refused token changes nothing and answers 400 with one of the codes `malformed`, "
            "`too_large`, `bad_signature`, `unknown_key`, `disallowed_algorithm`, "
            "`wrong_issuer`, `wrong_tenant`, `expired`, `not_yet_valid`, `missing_claim`, "
            "`invalid_claim`, `already_applied`, `rollback`. When Tally's own verification keys "
            "are misconfigured (`LICENSE_PUBLIC_KEYS`), nothing is applied and the answer is 503 "
            "`license_keys_unavailable`: the operator must fix the configuration."
        ),
        request=LicenseApplySerializer,
        responses={
            201: LicenseStateSerializer,
            400: OpenApiResponse(RefusalSerializer, description="The token was refused."),
            503: OpenApiResponse(
                RefusalSerializer,
                description="The license keys are misconfigured (`license_keys_unavailable`).",
            ),
        },
        examples=[
            OpenApiExample(
                "A token", value={"token": "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOi...In0.c2lnbmF0dXJl"}
            ),
            OpenApiExample(
                "Applied", value=_LICENSED_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "Refused",
                response_only=True,
                status_codes=["400"],
                value={
                    "code": "wrong_tenant",
                    "detail": "The license was issued for another tenant: its subject is not "
                    "this tenant's license ID. Send the vendor the license ID shown on "
                    "Settings > License.",
                },
            ),
        ],
    )
    def post(self, request):
        serializer = LicenseApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        license_apply(
            tenant=request.tenant,
            token=serializer.validated_data["token"],
            acting_user=request.user,
        )
        state = LicenseStateSerializer(license_state(request.tenant)).data
        return Response(state, status=status.HTTP_201_CREATED)


class LicenseHistoryApi(generics.ListAPIView):
    """Every license the tenant has applied, newest first."""

    request: TenantRequest

    permission_classes = [IsTenantAdmin]
    serializer_class = LicenseSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request tenant
            return License.objects.none()
        return license_history(self.request.tenant)

    @extend_schema(
        summary="Every applied license, newest first",
        examples=[
            OpenApiExample(
                "History",
                response_only=True,
                value={
                    "count": 1,
                    "next": None,
                    "previous": None,
                    "results": [_LICENSED_EXAMPLE["license"]],
                },
            )
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
