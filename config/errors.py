"""Errors Django answers outside the DRF views (no route, a crash): JSON `{"code", "detail"}`
under /api/ (SPEC §6.1), the HTML pages everywhere else."""

import base64
import hashlib
import re

from csp.decorators import csp_update
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import is_valid_path
from django.views import defaults

API_PREFIX = "/api/"


def _inline_style_source(template: str) -> str:
    """The CSP source allowing the one <style> block of `template` (a page that must not
    depend on static files) by its SHA-256, so the policy needs no 'unsafe-inline'."""
    text = (settings.BASE_DIR / "templates" / template).read_text()
    match = re.search(r"<style>(.*?)</style>", text, re.DOTALL)
    assert match is not None, f"{template} has no <style> block"
    style = match.group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's own 400s (an oversized body, a suspicious request) before any view runs."""
    if not is_api_request(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        body = {
            "code": "too_large",
            "detail": f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes, "
            "the most Tally reads; send less at once.",
        }
    else:
        body = {"code": "bad_request", "detail": "Tally could not read this request."}
    return JsonResponse(body, status=400)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not is_api_request(request):
        return defaults.page_not_found(request, exception)
    path = request.path_info
    detail = f"There is no API endpoint {path}."
    with_slash = f"{path}/"
    if not path.endswith("/") and is_valid_path(with_slash, getattr(request, "urlconf", None)):
        # APPEND_SLASH does not redirect API writes (config.middleware): say what was meant.
        detail = (
            f"There is no API endpoint {path}: did you mean {with_slash} (with the trailing slash)?"
        )
    return JsonResponse({"code": "not_found", "detail": detail}, status=404)


@csp_update({"style-src": [_inline_style_source("500.html")]})
def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api_request(request):
        return defaults.server_error(request)
    return JsonResponse(
        {
            "code": "server_error",
            "detail": "Tally failed to answer this request; the error is logged for the "
            "operator. Try again later.",
        },
        status=500,
    )
