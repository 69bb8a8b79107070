"""`POST /api/v1/usage/events/`: a batch of LLM usage records in (SPEC §6.1)."""

from collections.abc import Mapping
from functools import cache
from typing import cast

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.fields import Field, SkipField, empty
from rest_framework.response import Response
from rest_framework.views import APIView

from config.schema import UnknownFieldsRefused
from licensing.tenancy import IsTenantAdmin
from usage.api.fields import (
    OccurredAtField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    one_message,
)
from usage.errors import UsageRefused, batch_refused
from usage.models import TOKENS_LIMIT
from usage.services import MAX_BATCH, UsageEventData, usage_events_record

_TOKENS = one_message(f"A whole number from 0 to {TOKENS_LIMIT} is required.")
_ID_LIMIT = 2**63 - 1


def _tokens_field(**kwargs) -> StrictIntegerField:
    return StrictIntegerField(min_value=0, max_value=TOKENS_LIMIT, error_messages=_TOKENS, **kwargs)


def _id_field(noun: str, **kwargs) -> StrictIntegerField:
    return StrictIntegerField(
        required=False,
        allow_null=True,
        max_value=_ID_LIMIT,
        error_messages=one_message(f"No {noun} with this id in your tenant."),
        **kwargs,
    )


class UsageEventListSerializer(serializers.ListSerializer):
    default_error_messages = {
        "not_a_list": "Send the events as a list.",
        "empty": f"The batch is empty: send 1 to {MAX_BATCH} events.",
        "max_length": "A batch holds at most {max_length} events.",
    }


class UsageEventInputSerializer(UnknownFieldsRefused):
    """One usage record. The tenant's model, ticket and task are looked up by the service."""

    default_error_messages = {"invalid": "Each event is a JSON object."}

    request_id = StrictCharField(
        max_length=200,
        error_messages=one_message("A request_id of 1 to 200 characters is required."),
        help_text="Idempotency key per tenant.",
    )
    occurred_at = OccurredAtField(help_text="With an offset; at most a day ahead.")
    model = StrictCharField(
        error_messages=one_message("The name of a model is required."),
        help_text="The name of one of your models.",
    )
    input_tokens = _tokens_field(help_text="Uncached.")
    output_tokens = _tokens_field()
    cached_tokens = _tokens_field(required=False)
    ticket = _id_field("ticket", help_text="Left out: the task's ticket, if any.")
    task = _id_field(
        "task",
        help_text="With a ticket that is not the task's ticket (or the task has none): "
        "400 on `ticket`.",
    )
    host = StrictCharField(
        required=False,
        allow_null=True,
        max_length=200,
        error_messages=one_message("A host is the name (a string) of one of your hosts."),
        help_text="The name of one of your hosts. Left out or null: the task's host, if any. "
        "A name no host has, or that several share: 400 on `host`.",
    )
    consumer = StrictCharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=200,
        error_messages=one_message("A consumer is a name (a string) of at most 200 characters."),
    )
    succeeded = StrictBooleanField(
        required=False, error_messages=one_message("true or false."), help_text="Default true."
    )

    class Meta:
        list_serializer_class = UsageEventListSerializer


def validated_events(records) -> list[UsageEventData]:
    """The records validated by their input serializer, or one UsageRefused naming each
    bad record and field (`{"events": {index: {field: [messages]}}}`)."""
    valid = _valid_by_fields(records)
    if valid is not None:
        return valid
    # many=True hands max_length to the ListSerializer; the stubs do not know it.
    serializer = UsageEventInputSerializer(  # type: ignore[call-arg]
        data=records, many=True, allow_empty=False, max_length=MAX_BATCH
    )
    if serializer.is_valid():
        return serializer.validated_data
    errors = serializer.errors
    if isinstance(errors, Mapping) and "non_field_errors" in errors:  # the batch as a whole
        [message] = errors["non_field_errors"]
        raise UsageRefused(str(message), errors={"events": [str(message)]})
    # Per record, as a list or (LIST_SERIALIZER_ERRORS_AS_DICT) a dict by index.
    by_index = errors.items() if isinstance(errors, Mapping) else enumerate(errors)
    raise batch_refused(
        {str(index): _record_errors(fields) for index, fields in sorted(by_index) if fields}
    )


def _valid_by_fields(records) -> list[UsageEventData] | None:
    """The batch as the serializer validates it when every record is good, else None (the
    serializer then runs, and its errors are the answer).

    Each value goes through its own field's `run_validation`, as the serializer does it, but
    without the serializer's per-record machinery, which cost more than half of the
    validation of a batch of 1,000 (`bench/activity.py`'s ingestion data: 21 ms with the
    serializer, 9 ms this way)."""
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_BATCH:
        return None
    fields = _record_fields()
    valid = []
    for record in records:
        if not isinstance(record, dict) or not fields.keys() >= record.keys():
            return None  # not an object, or an unknown field
        clean = {}
        for name, field in fields.items():
            try:
                clean[name] = field.run_validation(record.get(name, empty))
            except SkipField:  # an optional field left out: no key, as the serializer does
                continue
            except (serializers.ValidationError, DjangoValidationError):
                return None
        valid.append(clean)
    return cast(list[UsageEventData], valid)


@cache
def _record_fields() -> dict[str, Field]:
    """The record serializer's fields, bound once (they keep no state between records)."""
    serializer = UsageEventInputSerializer()
    # The fields alone are the serializer's rules only while it adds none of its own.
    own_rules = type(serializer).validate is not serializers.Serializer.validate or any(
        hasattr(serializer, f"validate_{name}") for name in serializer.fields
    )
    assert not own_rules, "validate hooks would be skipped by _valid_by_fields"
    return dict(serializer.fields)


def _record_errors(errors) -> dict[str, list[str]]:
    """One record's errors by field; a record that is not an object (null, a number) has
    them as a list, put under "non_field_errors"."""
    if not isinstance(errors, Mapping):
        return {"non_field_errors": [str(message) for message in errors]}
    return {field: [str(m) for m in messages] for field, messages in errors.items()}


class UsageEventsBatchSerializer(serializers.Serializer):
    # many=True hands max_length to the ListSerializer; the stubs do not know it.
    events = UsageEventInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=MAX_BATCH
    )


class EventsRecordedSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="request_ids stored before: not counted again.")


EVENTS_EXAMPLE = {
    "events": [
        {
            "request_id": "run-7f3a-0001",
            "occurred_at": "2026-11-20T14:03:12+01:00",
            "model": "gpt-4o",
            "input_tokens": 1200,
            "output_tokens": 350,
            "cached_tokens": 800,
            "ticket": 42,
            "host": "web-01",
            "consumer": "agent-disk-cleaner",
            "succeeded": True,
        }
    ]
}
EVENTS_REFUSED_EXAMPLE = {
    "code": "invalid",
    "detail": "Event 3, field model: No model named 'gpt-9': create it first "
    "(POST /api/v1/models/). Nothing was stored.",
    "errors": {"events": {"3": {"model": ["No model named 'gpt-9': create it first ..."]}}},
}


class UsageEventsApi(APIView):
    """Ingest a batch of LLM usage records: whole or nothing, idempotent by request_id."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=UsageEventsBatchSerializer,
        responses={201: EventsRecordedSerializer, 200: EventsRecordedSerializer},
        examples=[
            OpenApiExample("A batch of one", value=EVENTS_EXAMPLE, request_only=True),
            OpenApiExample(
                "Stored",
                value={"received": 1, "created": 1, "duplicates": 0},
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "A bad record",
                value=EVENTS_REFUSED_EXAMPLE,
                response_only=True,
                status_codes=["400"],
            ),
        ],
        description="201 when anything new was stored; 200 when every request_id was "
        "stored before (a re-post). A bad record: 400 naming the record index and field.",
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, Mapping) or not isinstance(data.get("events"), list):
            raise UsageRefused(
                f'Send {{"events": [...]}} with 1 to {MAX_BATCH} records.',
                errors={"events": ["Expected a list of records."]},
            )
        events = validated_events(data["events"])
        recorded = usage_events_record(tenant=request.tenant, events=events)
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(EventsRecordedSerializer(recorded).data, status=code)
