"""The API edge: every error leaves as JSON `{"code", "detail", ...}` (SPEC §6.1)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from licensing.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    # Django's own 404/403 (get_object_or_404, ...) as DRF's, so they get a code below too.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {
            "code": "invalid",
            "detail": _validation_sentence(errors),
            "errors": errors,
        }
    elif isinstance(exc, exceptions.Throttled):
        # DRF's Throttled sets `wait`; the stubs leave it out.
        wait = exc.wait  # type: ignore[attr-defined]
        response.data = {
            "code": "rate_limited",
            "detail": f"Too many requests; try again in {wait or 1:.0f} seconds "
            "(the Retry-After header says the same).",
        }
    else:
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(exc.detail),
        }
    return response


def _validation_sentence(errors: dict) -> str:
    fields = ", ".join(str(field) for field in errors)
    return f"The request is not valid: check {fields}."
