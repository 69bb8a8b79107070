"""The OpenAPI schema documents the errors any endpoint can answer (SPEC §6.1: errors are JSON
`{"code", "detail", ...}`), so a client, and the schema fuzzer, know them: bad input (400), no
or a refused credential (401), not allowed (403), no such object or page (404), rate-limited
(429). An endpoint's own `@extend_schema` answers for a status win over these."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable snake_case code, e.g. `invalid_text`.")
    detail = serializers.CharField(help_text="A sentence a person understands.")
    # The API's "errors" member; the stubs know only Serializer.errors, a property.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
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


class TallyAutoSchema(AutoSchema):
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
