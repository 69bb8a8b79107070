"""The OpenAPI schema documents the errors any endpoint can answer (SPEC §6.1: errors are JSON
`{"code", "detail", ...}`), so a client, and the schema fuzzer, know them: bad input (400), no
or a refused credential (401), not allowed (403), no such object or page (404), rate-limited
(429). An endpoint's own `@extend_schema` answers for a status win over these."""

from collections.abc import Mapping
from typing import Any, cast

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable snake_case code, e.g. `invalid_text`.")
    detail = serializers.CharField(help_text="A sentence a person understands.")
    # The API's "errors" member; the stubs know only Serializer.errors, a property.
    errors = serializers.DictField(  # type: ignore[assignment]
        # A field's messages, or (a batch, a nested object) the errors by index or member.
        child=serializers.JSONField(),
        required=False,
        help_text="Validation errors by field (path); present on 400 `invalid` and `invalid_text`.",
    )


COMMON_ERRORS = {
    "400": "Bad input: `invalid` (with `errors`), `invalid_text`, `malformed`, `parse_error`, "
    "`too_large`.",
    "401": "No credential, or one that is refused: `not_authenticated`, `token_invalid`, "
    "`token_expired`, `token_revoked`.",
    "403": "Not allowed: `permission_denied`, `token_scope`, or a domain refusal.",
    "404": "No such object for this tenant, or no such page.",
    "429": "`rate_limited`; the `Retry-After` header says when to try again.",
}


class UnknownFieldsRefused(serializers.Serializer):
    """A request body that refuses fields it does not know ("Unknown field.": a typo would
    lose data), and whose schema says so (`additionalProperties: false`)."""

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        problems = {field: ["Unknown field."] for field in unknown}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            detail = cast(dict[str, Any], error.detail)  # a serializer's errors, by field
            raise serializers.ValidationError({**problems, **detail}) from None
        if problems:
            raise serializers.ValidationError(problems)
        return value


class TallyAutoSchema(AutoSchema):
    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        mapped = super()._map_serializer_field(field, direction, bypass_extensions)
        decimal_string = isinstance(field, serializers.DecimalField) and "pattern" in mapped
        if decimal_string and field.decimal_places is not None:
            # drf-spectacular's pattern matches "" too; a decimal string has a digit.
            whole, places = field.max_whole_digits, field.decimal_places
            mapped["pattern"] = (
                rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
            )
        return mapped

    def _map_basic_serializer(self, serializer, direction):
        mapped = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), UnknownFieldsRefused):
            mapped["additionalProperties"] = False
        return mapped

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for status, description in COMMON_ERRORS.items():
            if status not in responses:
                responses[status] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description),
                    status,
                    ["application/json"],
                    direction,
                )
        return responses
