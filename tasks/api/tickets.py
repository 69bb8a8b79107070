"""The tickets API: gateway deliveries, ticket status and retry, schedules (SPEC §6.1)."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import UnknownFieldsRefused
from licensing.errors import DomainError
from licensing.tenancy import IsTenantAdmin, TenantRequest
from tasks.models import Gateway, Schedule, ScheduleTick, Ticket
from tasks.services import (
    GatewayRevoked,
    gateway_secret_hash,
    schedules_pause,
    schedules_resume,
    ticket_receive,
    ticket_retry,
    tickets_retry_rejected,
)

# A delivery is a ticket, not a file: anything larger is refused before it is parsed.
MAX_DELIVERY_BYTES = 64 * 1024
# The longest recurrence a ticket may ask for: a year.
MAX_EVERY_MINUTES = 366 * 24 * 60
RECENT_TICKS = 20


class GatewaySecretAuthentication(BaseAuthentication):
    """`Authorization: Bearer <ingest secret>` of the gateway named in the URL, and nothing else.

    A wrong or missing secret is 401, and so is a revoked gateway's (`gateway_revoked`). A
    secret that belongs to another gateway is 404 for this id: the caller is a known gateway,
    but not this one (another tenant's, or none at all).
    """

    def authenticate(self, request):
        keyword, _, secret = get_authorization_header(request).decode("latin-1").partition(" ")
        secret = secret.strip()
        if keyword.lower() != "bearer" or not secret:
            raise exceptions.NotAuthenticated(
                "Send the gateway's ingest secret: Authorization: Bearer <secret>."
            )
        gateway_id = request.parser_context["kwargs"]["gateway_id"]
        # One probe of the secret_hash index, whichever secret is sent (SHA-256 of a
        # high-entropy secret: equal hashes are equal secrets, so no timing leak to avoid).
        gateway = Gateway.objects.filter(secret_hash=gateway_secret_hash(secret)).first()
        if gateway is not None and str(gateway.pk) == str(gateway_id):
            if gateway.revoked_at is not None:
                raise _revoked(GatewayRevoked(gateway))
            return AnonymousUser(), gateway
        if gateway is not None:
            raise exceptions.NotFound(f"Your secret is not the one of gateway {gateway_id}.")
        raise exceptions.AuthenticationFailed("The gateway secret is wrong.")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="gateway"'


def _revoked(refusal: GatewayRevoked) -> exceptions.AuthenticationFailed:
    """A 401 with its code, and the `WWW-Authenticate` header DRF adds to authentication errors."""
    return exceptions.AuthenticationFailed(refusal.detail, code=refusal.code)


class GatewaySecretScheme(OpenApiAuthenticationExtension):
    target_class = GatewaySecretAuthentication
    name = "gatewaySecret"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The gateway's ingest secret, shown once when the gateway was created.",
        }


class IsAuthenticatedGateway(BasePermission):
    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, Gateway)


class RecurrenceSerializer(UnknownFieldsRefused):
    every_minutes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_EVERY_MINUTES,
        help_text="Run again every N minutes, at least 5: a smaller N runs every 5. "
        "The answer's recurrence holds the interval the schedule will run at.",
    )


class TicketDeliverySerializer(UnknownFieldsRefused):
    external_id = serializers.CharField(
        max_length=255, help_text="The ticket's ID in the gateway; re-deliveries reuse it."
    )
    subject = serializers.CharField(max_length=500)
    body = serializers.CharField(required=False, allow_blank=True, default="")
    recurrence = RecurrenceSerializer(required=False, allow_null=True, default=None)


class TicketSerializer(serializers.ModelSerializer):
    schedule = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "id",
            "gateway",
            "external_id",
            "subject",
            "body",
            "recurrence",
            "status",
            "task",
            "schedule",
            "refusal_code",
            "refusal_detail",
            "refused_at",
            "converted_at",
            "received_at",
        ]
        read_only_fields = fields

    def get_schedule(self, ticket: Ticket) -> int | None:
        schedule = getattr(ticket, "schedule", None)
        return schedule.pk if schedule is not None else None


def _tickets():
    return Ticket.objects.select_related("schedule")


class TicketDeliveryApi(APIView):
    """A gateway delivers a ticket; it is stored as pending (202) for the engine."""

    authentication_classes = [GatewaySecretAuthentication]
    permission_classes = [IsAuthenticatedGateway]

    @extend_schema(
        request=TicketDeliverySerializer,
        responses={
            202: TicketSerializer,
            400: OpenApiResponse(description="invalid, too_large or parse_error"),
            401: OpenApiResponse(description="missing or wrong gateway secret; gateway_revoked"),
            404: OpenApiResponse(description="the secret is not this gateway's"),
        },
    )
    def post(self, request, gateway_id: int):
        declared_length = request.META.get("CONTENT_LENGTH") or "0"
        if (declared_length.isdigit() and int(declared_length) > MAX_DELIVERY_BYTES) or len(
            request.body
        ) > MAX_DELIVERY_BYTES:
            raise DomainError(
                f"The delivery is larger than {MAX_DELIVERY_BYTES // 1024} KiB; "
                "send the ticket's text, not attachments.",
                code="too_large",
            )
        delivery = TicketDeliverySerializer(data=request.data)
        delivery.is_valid(raise_exception=True)
        try:
            ticket, created = ticket_receive(gateway=request.auth, **delivery.validated_data)
        except GatewayRevoked as refusal:  # revoked since this request was authenticated
            raise _revoked(refusal) from None
        headers = {} if created else {"Idempotent-Replayed": "true"}
        return Response(
            TicketSerializer(ticket).data, status=status.HTTP_202_ACCEPTED, headers=headers
        )


class TicketListApi(generics.ListAPIView):
    """The tenant's tickets, newest first; `?status=pending|converted|rejected` filters."""

    request: TenantRequest

    serializer_class = TicketSerializer

    def get_queryset(self):
        tickets = _tickets().filter(tenant=self.request.tenant)
        wanted = self.request.query_params.get("status")
        if wanted in Ticket.Status.values:
            tickets = tickets.filter(status=wanted)
        return tickets


class TicketDetailApi(generics.RetrieveAPIView):
    """One ticket of the tenant: status, the task it became, the refusal code."""

    request: TenantRequest

    serializer_class = TicketSerializer

    def get_queryset(self):
        return _tickets().filter(tenant=self.request.tenant)


class TicketRetryApi(APIView):
    """Put a rejected ticket back to pending; the next engine pass converts it (admin)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=None,
        responses={
            200: TicketSerializer,
            409: OpenApiResponse(description="ticket_not_rejected"),
        },
    )
    def post(self, request, pk: int):
        ticket = get_object_or_404(Ticket, pk=pk, tenant=request.tenant)
        ticket = ticket_retry(ticket=ticket)
        return Response(TicketSerializer(_tickets().get(pk=ticket.pk)).data)


class TicketsRetryRejectedApi(APIView):
    """Put every rejected ticket of the tenant back to pending, e.g. after a new license (admin)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "TicketsRetried",
                {"retried": serializers.IntegerField(help_text="How many are pending again.")},
            )
        },
    )
    def post(self, request):
        retried = tickets_retry_rejected(tickets=Ticket.objects.filter(tenant=request.tenant))
        return Response({"retried": retried})


class ScheduleTickSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduleTick
        fields = [
            "due_at",
            "fired_at",
            "status",
            "task",
            "refusal_code",
            "refusal_detail",
            "slots_skipped",
        ]
        read_only_fields = fields


class ScheduleSerializer(serializers.ModelSerializer):
    ticks = ScheduleTickSerializer(
        source="recent_ticks",
        many=True,
        read_only=True,
        help_text=f"The {RECENT_TICKS} latest ticks, newest first.",
    )

    class Meta:
        model = Schedule
        fields = [
            "id",
            "ticket",
            "title",
            "every_minutes",
            "next_run_at",
            "status",
            "last_tick_at",
            "created_at",
            "ticks",
        ]
        read_only_fields = fields


def _schedules():
    recent_ticks = ScheduleTick.objects.order_by("-due_at", "-id")[:RECENT_TICKS]
    return Schedule.objects.prefetch_related(
        Prefetch("ticks", queryset=recent_ticks, to_attr="recent_ticks")
    )


class ScheduleListApi(generics.ListAPIView):
    """The tenant's schedules with their latest ticks (created, or blocked with the code)."""

    request: TenantRequest

    serializer_class = ScheduleSerializer

    def get_queryset(self):
        return _schedules().filter(tenant=self.request.tenant)


class _ScheduleChangeApi(APIView):
    """POST changes one schedule of the tenant with `change`; answers the schedule (admin)."""

    permission_classes = [IsTenantAdmin]
    change = staticmethod(schedules_pause)

    @extend_schema(request=None, responses={200: ScheduleSerializer})
    def post(self, request, pk: int):
        schedule = get_object_or_404(Schedule, pk=pk, tenant=request.tenant)
        self.change(schedules=Schedule.objects.filter(pk=schedule.pk))
        return Response(ScheduleSerializer(_schedules().get(pk=schedule.pk)).data)


class SchedulePauseApi(_ScheduleChangeApi):
    """Pause a schedule: it makes no tick until it is resumed. Pausing a paused one is a 200
    that changes nothing."""

    change = staticmethod(schedules_pause)


class ScheduleResumeApi(_ScheduleChangeApi):
    """Resume a paused schedule: it runs next at its first slot after now; runs missed while it
    was paused are not made up. Resuming an active one is a 200 that changes nothing."""

    change = staticmethod(schedules_resume)
